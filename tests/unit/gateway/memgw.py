"""A gateway driven without sockets, for tests that drive time explicitly.

The same in-memory transports as ``bench/gateway_hotpath.py``: a client
connection and an upstream connection whose writes are collected, so a test
feeds bytes in, calls ``check_timeouts(now)`` with the time it chooses and
reads what the gateway wrote, independent of how busy the machine is.
"""

from __future__ import annotations

from stateline.gateway.config import load
from stateline.gateway.server import Gateway
from stateline.gateway.upstream_protocol import UpstreamConnection


class Transport:
    """Just enough of an asyncio transport: collects writes, records pauses and closes."""

    def __init__(self, peer: tuple[str, int] = ("127.0.0.1", 40000)) -> None:
        self.out: list[bytes] = []
        self.peer = peer
        self.closed = False
        self.aborted = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def data(self) -> bytes:
        return b"".join(self.out)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.peer if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True


def gateway(toml: str) -> Gateway:
    return Gateway(load(toml))


def client(gw: Gateway, peer: tuple[str, int] = ("127.0.0.1", 40000)):
    """A client connection on ``gw`` and its transport."""
    c = gw.protocol()
    t = Transport(peer)
    c.connection_made(t)
    return c, t


def idle_upstream(gw: Gateway, pool: str = "apps") -> tuple[UpstreamConnection, Transport]:
    """An idle keep-alive connection to the pool's first member, ready to be taken."""
    up = next(iter(gw.pools[pool].members.values()))
    conn = UpstreamConnection(up)
    t = Transport()
    conn.transport = t
    up.idle.append(conn)
    return conn, t
