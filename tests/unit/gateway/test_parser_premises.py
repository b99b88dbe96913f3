"""What the data plane assumes of llhttp (httptools): pinned, so an upgrade that changes it fails.

``ClientProtocol.on_headers_complete`` skips ``get_http_version()`` (it builds
a string per call) when a request keeps the connection alive without any
Connection header: that is only true of HTTP/1.1 among the versions llhttp
accepts. If llhttp ever accepts another version, or keeps 1.0 alive by
default, these tests fail and the shortcut must go.
"""

from __future__ import annotations

import pytest
from httptools import HttpParserError, HttpRequestParser


class _Sink:
    """Reads the parser where the gateway does: inside on_headers_complete."""

    def __init__(self) -> None:
        self.parser = HttpRequestParser(self)
        self.seen: tuple[str, bool] | None = None

    def on_headers_complete(self) -> None:
        self.seen = (self.parser.get_http_version(), self.parser.should_keep_alive())


def _parse(line: str, extra: str = "") -> tuple[str, bool] | None:
    sink = _Sink()
    sink.parser.feed_data(f"{line}\r\nHost: x\r\n{extra}\r\n".encode())
    return sink.seen


@pytest.mark.parametrize("version", ["0.9", "1.0", "1.1", "2.0"])
def test_only_http11_keeps_alive_without_a_connection_header(version: str) -> None:
    assert _parse(f"GET / HTTP/{version}") == (version, version == "1.1")


@pytest.mark.parametrize("version", ["1.2", "1.9", "2.1", "3.0", "0.1", "9.9"])
def test_llhttp_refuses_every_other_version(version: str) -> None:
    with pytest.raises(HttpParserError):
        _parse(f"GET / HTTP/{version}")


def test_a_10_request_keeps_alive_only_when_it_asks() -> None:
    assert _parse("GET / HTTP/1.0", "Connection: keep-alive\r\n") == ("1.0", True)
    assert _parse("GET / HTTP/1.1", "Connection: close\r\n") == ("1.1", False)
