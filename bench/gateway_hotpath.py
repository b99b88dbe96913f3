"""CPU cost of the gateway's per-request Python work, without sockets.

Drives one client connection and one idle upstream connection with in-memory
transports: a GET goes in, the head the gateway writes upstream is checked,
an upstream response comes back, the client response is checked. What it
times is exactly the user-space work the data plane adds per proxied request
(parsing, routing, balancing, head rewriting, accounting), none of the
syscalls; on a shared machine it is far steadier than a wrk run. Prints the
mode (compiled or pure) and microseconds per request (best of several runs):

    python bench/gateway_hotpath.py
    STATELINE_PURE_PYTHON=1 python bench/gateway_hotpath.py
"""

from __future__ import annotations

import argparse
import asyncio
import time

from stateline.gateway import native
from stateline.gateway.config import load
from stateline.gateway.server import Gateway
from stateline.gateway.upstream_protocol import UpstreamConnection

REQUEST = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Thu, 26 Nov 2026 06:00:00 GMT\r\n"
            b"Content-Type: application/json\r\nContent-Length: 11\r\n"
            b"Connection: keep-alive\r\n\r\n{\"ok\":true}")
CONFIG = """
[pools.apps]
backends = ["127.0.0.1:9"]
[[routes]]
prefix = "/"
pool = "apps"
"""


class Transport:
    """Just enough of an asyncio transport: collects what is written."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        raise AssertionError("the benchmark's connections must stay open")


def run(requests: int) -> float:
    """Seconds per proxied request over ``requests`` request/response cycles."""
    gw = Gateway(load(CONFIG))
    up = next(iter(gw.pools["apps"].members.values()))
    conn = UpstreamConnection(up)
    conn.transport = upstream_t = Transport()
    up.idle.append(conn)
    client = gw.protocol()
    client_t = Transport()
    client.connection_made(client_t)
    client_in, upstream_in = client.data_received, conn.data_received
    t0 = time.perf_counter()
    for _ in range(requests):
        client_in(REQUEST)
        upstream_in(RESPONSE)
    elapsed = time.perf_counter() - t0
    assert upstream_t.out[-1].startswith(b"GET /ping HTTP/1.1\r\n"), upstream_t.out[-1][:80]
    assert client_t.out[-1].startswith(b"HTTP/1.1 200 OK\r\n"), client_t.out[-1][:80]
    assert client_t.out[-1].endswith(b"{\"ok\":true}") and len(client_t.out) == requests
    return elapsed / requests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    loop = asyncio.new_event_loop()  # the data plane reads the running loop only for timers
    asyncio.set_event_loop(loop)
    best = min(run(args.requests) for _ in range(args.repeat))
    loop.close()
    print(f"data plane: {native.mode} ({native.reason})")
    print(f"per request: {best * 1e6:.2f} us (best of {args.repeat} x {args.requests})")


if __name__ == "__main__":
    main()
