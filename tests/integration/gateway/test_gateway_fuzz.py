"""Fuzzing the gateway's request framing through a real gateway and a recording backend.

Hypothesis builds a connection's worth of pipelined requests: methods, header
spellings, bodies with Content-Length or chunked (random chunk sizes,
extensions, trailers), ``Expect: 100-continue``, HEAD, and optionally one
request that must be refused at its head (ambiguous or broken framing, bad
versions, oversized parts, an encoded slash...). The bytes go out in random
segments over one socket. Then, for every example:

- **no crash**: the gateway is alive, and its log has no traceback;
- **no desync**: the responses are exactly the requests answered, in order —
  response *i* names request *i*'s path and the body length the backend read
  (HEAD answers have no body), and after the refusal's answer the connection
  closes with nothing more;
- **nothing forwarded after a refused head**: the backend (which counts the
  request heads it saw, by path) never saw the refused request nor any
  request pipelined after it.

Each request has a path of its own (``/fz/<example>/<i>``), which is what the
backend's counts are keyed by. Without a refusal, a last request with ``Connection: close`` ends the
connection, so "nothing after the last answer" is known without waiting.
The number of examples is bounded so the whole
target runs in seconds (``FUZZ_EXAMPLES`` raises it for a longer run).
"""

from __future__ import annotations

import itertools
import os
import socket
from dataclasses import dataclass

import pytest
from gwtest import Reader, connect, get, pool_toml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
_examples = itertools.count(1)


@pytest.fixture(scope="module")
def gw(backends, gateway):
    b = backends("fuzz")
    return gateway(pool_toml(b.address, health_checks=False, max_body_bytes=1 << 20))


@dataclass
class Req:
    method: str
    raw: bytes  # with {path} still to fill in
    body_len: int


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=40)
_HEADER = st.tuples(_TOKEN.map(lambda t: "x-" + t), _VALUE)
_NAME_CASE = st.sampled_from([str.lower, str.upper, str.title])


@st.composite
def good_request(draw) -> Req:
    method = draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    case = draw(_NAME_CASE)
    lines = [f"{case('host')}: fuzz"]
    lines += [f"{n}: {v}" for n, v in draw(st.lists(_HEADER, max_size=5))]
    if draw(st.booleans()):
        lines.append(f"{case('x-request-id')}: {draw(_VALUE)}")
    body = b""
    kind = draw(st.sampled_from(["none", "length", "chunked"])) if method != "HEAD" else "none"
    if kind != "none":
        body = draw(st.binary(max_size=3000))
    if kind != "none" and draw(st.booleans()):
        lines.append(f"{case('expect')}: 100-continue")
    if kind == "length":
        lines.append(f"{case('content-length')}: {len(body)}")
        framed = body
    elif kind == "chunked":
        lines.append(f"{case('transfer-encoding')}: chunked")
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=6)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        out = []
        for p in pieces:
            if p:
                ext = ";ext=1" if draw(st.booleans()) else ""
                out.append(b"%x%s\r\n%s\r\n" % (len(p), ext.encode(), p))
        out.append(b"0\r\n")
        if draw(st.booleans()):
            out.append(b"x-trailer: t\r\n")
        out.append(b"\r\n")
        framed = b"".join(out)
    else:
        framed = b""
    head = f"{method} {{path}} HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n"
    return Req(method, head.encode() + framed, len(body))


# Heads the gateway must refuse before anything reaches an instance (and then close).
BAD_HEADS = [
    b"POST {path} HTTP/1.1\r\nHost: f\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\n\r\n",
    b"POST {path} HTTP/1.1\r\nHost: f\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST {path} HTTP/1.1\r\nHost: f\r\nContent-Length: 3, 3\r\n\r\nabc",
    b"POST {path} HTTP/1.1\r\nHost: f\r\nContent-Length: +3\r\n\r\nabc",
    b"POST {path} HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST {path} HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET {path} HTTP/1.1\r\nHost: f\r\nX-A: a\r\n b\r\n\r\n",
    b"GET {path} HTTP/1.1\r\nHost : f\r\n\r\n",
    b"GET {path} HTTP/1.1\r\n\r\n",
    b"GET {path} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET {path} HTTP/2.0\r\nHost: f\r\n\r\n",
    b"GET {path} HTTP/1.1\r\nHost: f\r\nExpect: something\r\n\r\n",
    b"GET {path}%2Fx HTTP/1.1\r\nHost: f\r\n\r\n",
    b"GET {path}%zz HTTP/1.1\r\nHost: f\r\n\r\n",
    b"GET {path}?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: f\r\n\r\n",
    b"GET {path} HTTP/1.1\r\nHost: f\r\n" + b"X-Many: 1\r\n" * 100 + b"\r\n",
    b"GET {path} HTTP/1.1\r\nHost: f\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n",
    b"CONNECT {path} HTTP/1.1\r\nHost: f\r\n\r\n",
    b"POST {path} HTTP/1.1\r\nHost: f\r\nContent-Length: 99999999\r\n\r\n",
    b"GET {path} HTTP/1.1\nHost: f\n\n",
    b"HEAD {path} HTTP/1.1\r\nHost: f\r\nContent-Length: 99999999\r\n\r\n",
    b"HEAD {path} HTTP/1.1\r\nHost: f\r\nExpect: something\r\n\r\n",
    b"HEAD {path}%2F HTTP/1.1\r\nHost: f\r\n\r\n",
]


@st.composite
def connection(draw) -> tuple[list[Req], Req | None, list[int]]:
    """Pipelined good requests, maybe one bad head among them, and where to cut the bytes."""
    goods = draw(st.lists(good_request(), min_size=0, max_size=4))
    bad = None
    if draw(st.booleans()) or not goods:
        bad = Req("BAD", draw(st.sampled_from(BAD_HEADS)), 0)
        goods.insert(draw(st.integers(0, len(goods))), bad)
        # what follows a refused request is never parsed: one more good one to prove it
        goods.append(draw(good_request()))
    cuts = draw(st.lists(st.integers(1, 20000), max_size=5))
    return goods, bad, cuts


def _send_segments(s: socket.socket, data: bytes, cuts: list[int]) -> None:
    points = sorted({c for c in cuts if c < len(data)})
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        try:
            s.sendall(data[a:b])
        except OSError:  # the gateway closed after a refusal: the rest is not wanted
            return


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(case=connection())
def test_request_framing_never_crashes_desyncs_or_forwards_after_a_refusal(gw, case) -> None:
    requests, bad, cuts = case
    example = next(_examples)
    paths = [f"/fz/{example}/{i}" for i in range(len(requests))]
    refused_at = requests.index(bad) if bad is not None else None
    if refused_at is None:  # a last request that closes: the end of the answers is known
        requests = [*requests, Req("GET", b"GET {path} HTTP/1.1\r\nHost: f\r\n"
                                          b"Connection: close\r\n\r\n", 0)]
        paths.append(f"/fz/{example}/last")
    data = b"".join(r.raw.replace(b"{path}", p.encode()) for r, p in zip(requests, paths,
                                                                          strict=True))
    with connect(gw.port, timeout=10) as s:
        _send_segments(s, data, cuts)
        reader = Reader(s)
        for i, (req, path) in enumerate(zip(requests, paths, strict=True)):
            head = req.raw.startswith(b"HEAD ")
            r = reader.response(head_only=head)
            while 100 <= r.status < 200:  # 100 Continue before the final answer
                r = reader.response(head_only=head)
            if i == refused_at:
                assert 400 <= r.status < 600 and r.status != 500, (r.status, r.body)
                assert head or r.json()["error"]["code"]
                assert r.headers.get("connection") == "close"
                break
            assert r.status == 200, (i, r.status, r.body[:300])
            if req.method == "HEAD":
                assert r.body == b""
            else:
                doc = r.json()
                assert doc["path"] == path and doc["method"] == req.method, (i, doc)
                assert doc["bytes"] == req.body_len, (i, doc)
        assert reader.closed(timeout=10), "the connection stays open after its last answer"
        assert reader.buf == b"", reader.buf[:200]  # nothing more than the answers
    if refused_at is not None:
        for path in paths[refused_at:]:
            assert get(gw.port, f"/seen?path={path}").json() == 0, path
    assert gw.proc.poll() is None
    assert "Traceback" not in gw.log.read_text(errors="replace")
