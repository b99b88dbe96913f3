#!/usr/bin/env python3
"""User-space instructions per proxied request, counted by callgrind (never a pass/fail).

Instruction counts do not move with the machine's load, so they are the figure
to compare one change of the data plane with the next on a shared machine.
Each measurement runs the same program twice under ``valgrind
--tool=callgrind``, with ``N1`` and ``N2`` requests, and prints
``(Ir(N2) - Ir(N1)) / (N2 - N1)``: start-up, imports and shutdown cancel out.

Two programs:

- ``hotpath``: ``bench/gateway_hotpath.py`` (the protocols driven with
  in-memory transports: the data plane's own Python/Cython work, no event
  loop, no syscalls);
- ``sockets``: a real ``stateline gateway`` process in front of a static
  nginx, sent requests one after the other over one keep-alive connection
  by a plain socket client outside valgrind: everything the gateway process
  runs in user space per request (uvloop, libuv, the data plane, the C
  library's syscall wrappers), not the kernel.

    .venv/bin/python bench/gateway_callgrind.py                   # both, compiled
    STATELINE_PURE_PYTHON=1 .venv/bin/python bench/gateway_callgrind.py hotpath
    .venv/bin/python bench/gateway_callgrind.py sockets --top 25  # and where they go

``--src DIR`` runs another copy of the package (``PYTHONPATH=DIR``, e.g. a
snapshot of ``src/`` taken before a change), so two versions can be counted
side by side. The "compiled"/"pure" label is what the counted processes chose at
import (``gateway.native``), not what was asked: a copy whose extensions do not
match its sources (a wheel without ``.pxd`` files, a stale build) is counted, and
labelled, as pure, with the reason on stderr. Needs valgrind (and nginx for
``sockets``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from stateline.local.procs import free_port, wait_port

REPO = Path(__file__).resolve().parent.parent
HOTPATH = REPO / "bench" / "gateway_hotpath.py"
STATELINE = str(Path(sys.executable).parent / "stateline")

NGINX_STATIC = """
worker_processes 1; daemon off; pid {d}/static.pid; error_log {d}/static.err;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {d}/t1; proxy_temp_path {d}/t2;
  fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }} }} }}
"""
REQUEST = b"GET /ping HTTP/1.1\r\nHost: bench\r\nUser-Agent: callgrind-bench\r\nAccept: */*\r\n\r\n"


def total_ir(out_file: Path) -> int:
    """The ``summary:``/``totals:`` instruction count of a callgrind output file."""
    text = out_file.read_text(errors="replace")
    m = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if not m:
        raise RuntimeError(f"no totals in {out_file}")
    return int(m.group(1))


def env_for(src: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def callgrind_cmd(out_file: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", "-q"]


def data_plane_mode(src: str | None) -> tuple[str, str]:
    """("compiled" | "pure", why) for the package the counted processes import.

    Asked of a process with the same environment, because the answer is the
    gateway's own choice at import: a copy whose extensions do not match its
    sources (a wheel without the ``.pxd`` files, a stale build) runs pure.
    """
    probe = ("import json; from stateline.gateway import native; native.select(); "
             "print(json.dumps([native.mode, native.reason]))")
    out = subprocess.run([sys.executable, "-c", probe], env=env_for(src), check=True,
                         capture_output=True, text=True).stdout
    mode, why = json.loads(out.strip().splitlines()[-1])
    return str(mode), str(why)


def hotpath_ir(n: int, out_file: Path, src: str | None) -> int:
    subprocess.run([*callgrind_cmd(out_file), sys.executable, str(HOTPATH), "--requests",
                    str(n), "--repeat", "1"], env=env_for(src), check=True,
                   stdout=subprocess.DEVNULL)
    return total_ir(out_file)


def send_requests(port: int, n: int) -> None:
    """``n`` sequential GETs over one keep-alive connection, each answer read in full."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            s.sendall(REQUEST)
            buf = b""
            while not (buf.endswith(b'{"ok":true}') and b"\r\n\r\n" in buf):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("the gateway closed the connection")
                buf += chunk
            if not buf.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {buf[:80]!r}")


def sockets_ir(n: int, out_file: Path, src: str | None, backend: int) -> int:
    port = free_port()
    gw = subprocess.Popen(
        [*callgrind_cmd(out_file), sys.executable, STATELINE, "gateway", "--listen",
         f"127.0.0.1:{port}", "--backend", f"http://127.0.0.1:{backend}", "--log-level",
         "warning"], env=env_for(src), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout=300)
        send_requests(port, n)
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait(300)
    return total_ir(out_file)


def per_function(out_file: Path, inclusive: bool) -> dict[str, int]:
    """Instructions by function in one callgrind output file (callgrind_annotate)."""
    cmd = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}",
           str(out_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    costs: dict[str, int] = {}
    for ln in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \([^)]*\)\s+(.*)$", ln)
        if m and "PROGRAM TOTALS" not in m.group(2):
            name = re.sub(r"^.*?:", "", m.group(2).split(" [")[0], count=1) or m.group(2)
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def annotate(small: Path, large: Path, requests: int, top: int, inclusive: bool) -> None:
    """Per-request instructions by function: the difference of the two runs, so start-up
    and shutdown (imports, compiling, freeing) drop out."""
    a, b = per_function(small, inclusive), per_function(large, inclusive)
    diff = sorted(((b.get(k, 0) - a.get(k, 0)) / requests, k) for k in set(a) | set(b))
    kind = "inclusive" if inclusive else "exclusive"
    print(f"  top {top} functions, {kind} instructions per request:")
    for per, name in sorted(diff, reverse=True)[:top]:
        print(f"    {per:9,.0f}  {name[:120]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("programs", nargs="*", default=["hotpath", "sockets"],
                    choices=["hotpath", "sockets"])
    ap.add_argument("--n1", type=int, default=2000)
    ap.add_argument("--n2", type=int, default=12000)
    ap.add_argument("--src", help="PYTHONPATH for another copy of the package (a snapshot)")
    ap.add_argument("--top", type=int, default=0, help="list the N costliest functions")
    ap.add_argument("--inclusive", action="store_true", help="--top by inclusive cost")
    ap.add_argument("--keep", help="folder to keep the callgrind output files in")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is needed")
    label, why = data_plane_mode(args.src)
    if label == "pure" and os.environ.get("STATELINE_PURE_PYTHON", "") in ("", "0"):
        print(f"note: the gateway under test runs pure Python: {why}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="stateline-cg-") as d:
        keep = Path(args.keep) if args.keep else Path(d)
        keep.mkdir(parents=True, exist_ok=True)
        backend_proc = None
        try:
            for program in args.programs:
                files = [keep / f"callgrind.{program}.{n}" for n in (args.n1, args.n2)]
                if program == "hotpath":
                    irs = [hotpath_ir(n, f, args.src)
                           for n, f in zip((args.n1, args.n2), files, strict=True)]
                else:
                    if backend_proc is None:
                        bport = free_port()
                        Path(d, "static.conf").write_text(NGINX_STATIC.format(d=d, port=bport))
                        backend_proc = subprocess.Popen(
                            ["nginx", "-p", d, "-c", f"{d}/static.conf"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        wait_port(bport)
                    irs = [sockets_ir(n, f, args.src, bport)
                           for n, f in zip((args.n1, args.n2), files, strict=True)]
                per = (irs[1] - irs[0]) / (args.n2 - args.n1)
                print(f"{program:<8} {label:<8} {per:10,.0f} instructions/request   "
                      f"(Ir {irs[0]:,} at {args.n1}, {irs[1]:,} at {args.n2}"
                      f"{', src ' + args.src if args.src else ''})", flush=True)
                if args.top:
                    annotate(files[0], files[1], args.n2 - args.n1, args.top, args.inclusive)
        finally:
            if backend_proc is not None:
                backend_proc.terminate()
                backend_proc.wait(10)


if __name__ == "__main__":
    main()
