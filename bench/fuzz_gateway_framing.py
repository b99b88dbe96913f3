"""Coverage-guided fuzzing of the gateway's request framing with atheris (optional).

The CI target is ``tests/integration/gateway/test_gateway_fuzz.py`` (hypothesis,
real sockets). This one runs in-process, with the in-memory transports of
``bench/gateway_hotpath.py``, so libFuzzer can try millions of byte strings:
arbitrary client bytes, cut into arbitrary reads, go into one client
connection; every request the gateway forwards is answered by a canned
response. It fails (and atheris saves the input) when:

- the data plane raises anything;
- the bytes the gateway sent upstream do not parse as HTTP/1.1 requests with a
  strict parser (a smuggled or broken request would);
- the gateway forwarded a request after it had refused one on that connection.

    pip install atheris
    python bench/fuzz_gateway_framing.py -atheris_runs=200000       # or -max_total_time=60
    STATELINE_PURE_PYTHON=1 python bench/fuzz_gateway_framing.py -max_total_time=60
"""

from __future__ import annotations

import asyncio
import sys

import atheris
from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from stateline.gateway.config import load
from stateline.gateway.server import Gateway
from stateline.gateway.upstream_protocol import UpstreamConnection

CONFIG = """
[pools.apps]
backends = ["127.0.0.1:9"]
health_checks = false
max_body_bytes = 4096
"""
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Transport:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Upstream:
    """What the instance receives, parsed strictly; counts complete requests."""

    def __init__(self) -> None:
        self.parser = HttpRequestParser(self)
        self.complete = 0

    def on_message_complete(self) -> None:
        self.complete += 1

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            self.parser = HttpRequestParser(self)
        except HttpParserError as exc:
            raise AssertionError(
                f"the gateway forwarded broken HTTP: {exc}: {data[:200]!r}") from exc


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    gw = Gateway(load(CONFIG))
    up = next(iter(gw.pools["apps"].members.values()))
    client = gw.protocol()
    client_t = Transport()
    client.connection_made(client_t)
    conns: list[tuple[UpstreamConnection, Transport, Upstream, list[int]]] = []
    while fdp.remaining_bytes():
        if not up.idle:  # an idle connection always ready: no real connect is ever tried
            conn = UpstreamConnection(up)
            t = Transport()
            conn.transport = t
            up.idle.append(conn)
            conns.append((conn, t, Upstream(), [0]))
        refused_before = client.rejected
        client.data_received(fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 512)))
        for conn, t, seen, fed in conns:
            if len(t.out) > fed[0]:
                if refused_before:
                    raise AssertionError("bytes went upstream after the client was refused")
                before = seen.complete
                for piece in t.out[fed[0]:]:
                    seen.feed(piece)
                fed[0] = len(t.out)
                for _ in range(seen.complete - before):
                    if conn.ex is not None:
                        conn.data_received(RESPONSE)
        if client_t.closed:
            break
    client.check_timeouts(1e9)  # every timeout at once: idle, stalled heads and bodies


SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\n"
    b"t: 1\r\n\r\n",
    b"PUT /%61/../b?q HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"GET http://x/y HTTP/1.0\r\nConnection: keep-alive\r\nX-Forwarded-For: 1\r\n\r\n",
]


def main() -> None:
    """Seeds a corpus (valid requests: random bytes alone rarely get past llhttp) unless given."""
    import tempfile
    from pathlib import Path

    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="gw-fuzz-"))
        for i, seed in enumerate(SEEDS):
            # the first byte of each read is its length (ConsumeIntInRange), then the bytes
            (corpus / f"seed{i}").write_bytes(bytes([len(seed) % 256]) + seed)
        args.append(str(corpus))
    asyncio.set_event_loop(asyncio.new_event_loop())  # the data plane reads it for timers
    # After the imports: the hot modules may come through stateline.gateway.native's own
    # finder, which instrument_imports() would not see. (Compiled modules are C: pure
    # Python, STATELINE_PURE_PYTHON=1, is what gives the fuzzer coverage to follow.)
    atheris.instrument_all()
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
