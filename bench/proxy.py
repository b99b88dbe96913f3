#!/usr/bin/env python3
"""The gateway's speed, as three printed figures (never a pass/fail).

1. Throughput next to nginx and HAProxy: runs ../shared/bench/proxy_ratio.py
   (``--haproxy``) with ``stateline gateway --listen {listen} --backend {backend}``
   and prints its table and ratios.
2. Latency added at a fixed moderate rate: the same paced keep-alive load
   (``--rate`` requests/s over ``--conns`` connections) sent straight to a
   static nginx backend, then through the gateway, then through nginx as a
   proxy (the same machine's reference); prints p50/p90/p99 of each and the
   differences. The load generator's own overhead is in every figure, so
   each difference is the proxy's.
3. ``--workers 1`` vs ``--workers 2`` throughput with wrk (not pinned to cores:
   on a 2-core machine wrk and the backend compete with the workers, so read
   it as "does a second worker help here", not as a scaling law).

    .venv/bin/python bench/proxy.py [--skip-ratio] [--rate 1000] [--seconds 8]

Needs nginx and wrk (and haproxy for the ratio). On a shared machine every
figure moves from run to run: compare figures from one run, and repeat.
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
import threading
import time
from pathlib import Path

from stateline.local.procs import free_port, wait_port

REPO = Path(__file__).resolve().parent.parent
# ../shared next to the checkout (a worktree under wt/ has it two levels up)
HARNESS = next((p for p in (REPO.parent / "shared" / "bench" / "proxy_ratio.py",
                            REPO.parent.parent / "shared" / "bench" / "proxy_ratio.py")
                if p.exists()), REPO.parent / "shared" / "bench" / "proxy_ratio.py")
STATELINE = str(Path(sys.executable).parent / "stateline")

NGINX_PROXY = """
worker_processes 1; daemon off; pid {d}/proxy.pid; error_log {d}/proxy.err;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {d}/p1; proxy_temp_path {d}/p2;
  fastcgi_temp_path {d}/p3; uwsgi_temp_path {d}/p4; scgi_temp_path {d}/p5;
  upstream b {{ server 127.0.0.1:{backend}; keepalive 64; keepalive_requests 1000000; }}
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
    location / {{ proxy_pass http://b; proxy_http_version 1.1;
      proxy_set_header Connection ""; }} }} }}
"""

NGINX_STATIC = """
worker_processes 1; daemon off; pid {d}/static.pid; error_log {d}/static.err;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {d}/t1; proxy_temp_path {d}/t2;
  fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }} }} }}
"""




def start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)


def paced_latencies(port: int, rate: float, seconds: float, conns: int) -> list[float]:
    """Send ``rate`` GET/s over ``conns`` keep-alive connections; latencies in ms."""
    request = b"GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n"
    per_conn = rate / conns
    out: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        mine: list[float] = []
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            start_t = time.perf_counter()
            n = 0
            while True:
                due = start_t + n / per_conn
                now = time.perf_counter()
                if now - start_t > seconds:
                    break
                if due > now:
                    time.sleep(due - now)
                t0 = time.perf_counter()
                s.sendall(request)
                buf = b""
                while True:
                    buf += s.recv(65536)
                    head, sep, body = buf.partition(b"\r\n\r\n")
                    if sep:
                        m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                        if m and len(body) >= int(m.group(1)):
                            break
                mine.append((time.perf_counter() - t0) * 1000)
                n += 1
        with lock:
            out.extend(mine[int(len(mine) * 0.1):])  # drop the warm-up tenth

    threads = [threading.Thread(target=run) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else float("nan")


def wrk_rps(port: int, seconds: int, conns: int) -> float:
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}/ping"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (from /proc); a process
    that has gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def with_children(pid: int) -> list[int]:
    """``pid`` and its child processes (nginx's worker runs under its master)."""
    out = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def cpu_per_request(port: int, pid: int, seconds: int) -> tuple[float, float]:
    """(microseconds of proxy CPU per request, req/s) under wrk -c64."""
    wrk_rps(port, 1, 64)
    pids = with_children(pid)
    before = cpu_seconds(pids)
    rps = wrk_rps(port, seconds, 64)
    used = cpu_seconds(pids) - before
    return used / (rps * seconds) * 1e6, rps


def gateway(port: int, backend: int, workers: int) -> subprocess.Popen:
    return start([STATELINE, "gateway", "--listen", f"127.0.0.1:{port}", "--backend",
                  f"http://127.0.0.1:{backend}", "--workers", str(workers),
                  "--log-level", "warning"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-ratio", action="store_true", help="skip the nginx/HAProxy ratio")
    ap.add_argument("--rate", type=float, default=1000.0, help="paced requests/s for latency")
    ap.add_argument("--conns", type=int, default=4, help="connections for the paced load")
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed")

    if not args.skip_ratio:
        print("== throughput vs nginx / haproxy (shared/bench/proxy_ratio.py)", flush=True)
        subprocess.run([sys.executable, str(HARNESS), "--haproxy", "--proxy-cmd",
                        f"{STATELINE} gateway --listen {{listen}} --backend {{backend}}"],
                       check=False)

    with tempfile.TemporaryDirectory(prefix="stateline-bench-") as d:
        bport = free_port()
        Path(d, "static.conf").write_text(NGINX_STATIC.format(d=d, port=bport))
        backend = start(["nginx", "-p", d, "-c", f"{d}/static.conf"])
        try:
            wait_port(bport)
            port, nport = free_port(), free_port()
            gw = gateway(port, bport, 1)
            Path(d, "proxy.conf").write_text(NGINX_PROXY.format(d=d, port=nport, backend=bport))
            ngx = start(["nginx", "-p", d, "-c", f"{d}/proxy.conf"])
            try:
                wait_port(port)
                wait_port(nport)
                paced_latencies(port, args.rate, 1.0, args.conns)  # warm-up
                paced_latencies(nport, args.rate, 1.0, args.conns)
                print(f"\n== added latency at {args.rate:.0f} req/s over {args.conns} "
                      f"keep-alive connections, {args.seconds} s each (nginx as the same "
                      "machine's reference)", flush=True)
                direct = paced_latencies(bport, args.rate, args.seconds, args.conns)
                via = paced_latencies(port, args.rate, args.seconds, args.conns)
                via_nginx = paced_latencies(nport, args.rate, args.seconds, args.conns)
                for name, lat in (("direct", direct), ("gateway", via), ("nginx", via_nginx)):
                    print(f"{name:<8} p50 {pct(lat, 50):6.3f} ms   p90 {pct(lat, 90):6.3f} ms   "
                          f"p99 {pct(lat, 99):6.3f} ms   n={len(lat)}")
                for name, lat in (("gateway", via), ("nginx", via_nginx)):
                    print(f"added by {name:<8} p50 {pct(lat, 50) - pct(direct, 50):6.3f} ms   "
                          f"p99 {pct(lat, 99) - pct(direct, 99):6.3f} ms")
            finally:
                stop(gw)
                stop(ngx)

            print(f"\n== --workers throughput (wrk -c64, {args.seconds} s, unpinned)", flush=True)
            for workers in (1, 2):
                port = free_port()
                gw = gateway(port, bport, workers)
                try:
                    wait_port(port)
                    wrk_rps(port, 2, 64)  # warm-up
                    rps = wrk_rps(port, args.seconds, 64)
                    print(f"--workers {workers}: {rps:10.0f} req/s", flush=True)
                finally:
                    stop(gw)
            print(f"direct to backend: {wrk_rps(bport, args.seconds, 64):10.0f} req/s")

            print("\n== CPU per proxied request (user+sys of the proxy process, wrk -c64): "
                  "steadier than req/s on a busy machine", flush=True)
            for name in ("nginx", "gateway", "nginx", "gateway"):
                port = free_port()
                if name == "nginx":
                    Path(d, "proxy.conf").write_text(
                        NGINX_PROXY.format(d=d, port=port, backend=bport))
                    proc = start(["nginx", "-p", d, "-c", f"{d}/proxy.conf"])
                else:
                    proc = gateway(port, bport, 1)
                try:
                    wait_port(port)
                    time.sleep(0.3)
                    us, rps = cpu_per_request(port, proc.pid, args.seconds)
                    print(f"{name:<8} {us:6.1f} us CPU/request   ({rps:8.0f} req/s)", flush=True)
                finally:
                    stop(proc)
        finally:
            stop(backend)


if __name__ == "__main__":
    main()
