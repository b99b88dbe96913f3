"""Header rewriting in both directions: pure functions over lower-cased byte pairs.

A proxy is two connections glued together, and hop-by-hop headers describe one
connection, not the message; forwarding them lets a client steer the
gateway's upstream connection (``Connection: close``, ``Upgrade``) or leak
credentials meant for the proxy (``Proxy-Authorization``). So both directions
drop them, plus any header the Connection header names.

The gateway then adds what the upstream needs to know about the client
(X-Forwarded-For, X-Forwarded-Proto — kept from a trusted proxy, see
:func:`forwarded_proto` — X-Request-ID) and what the client needs
to know about the path its request took (X-Served-By). Heads are built as one
``bytes`` join: this runs once per request on the hot path.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

from stateline.gateway.framing import BODY_CHUNKED, BODY_LENGTH, BodyFraming

# Names dropped in both directions (lower case). Transfer-Encoding and
# Content-Length are framing: the gateway re-frames each hop itself.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
_REQUEST_OWN = frozenset({b"content-length", b"x-forwarded-for", b"x-forwarded-proto",
                          b"x-request-id", b"expect", b"host"})
_RESPONSE_OWN = frozenset({b"content-length", b"x-served-by"})
_RESPONSE_DROP = HOP_BY_HOP | _RESPONSE_OWN
_REQUEST_SKIP = HOP_BY_HOP | _REQUEST_OWN
MAX_REQUEST_ID = 200

_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}
_ID_PREFIX = os.urandom(6).hex().encode()
_ids = itertools.count(1)


def new_request_id() -> bytes:
    """A request id unique across processes: random per-process prefix + counter (cheap)."""
    return b"%s-%x" % (_ID_PREFIX, next(_ids))


def connection_tokens(headers: Sequence[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in Connection headers (lower case), which are hop-by-hop too."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            for tok in value.split(b","):
                tok = tok.strip(b" \t").lower()
                if tok:
                    tokens.add(tok)
    return frozenset(tokens)


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= MAX_REQUEST_ID and all(33 <= c < 127 for c in value)


def request_head(
    method: bytes,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    host: bytes,
    client_ip: bytes,
    proto: bytes,
    framing: BodyFraming,
    has_connection: bool,
) -> tuple[bytes, bytes]:
    """The HTTP/1.1 request head for the upstream, and the request id it carries.

    (Arguments are positional-or-keyword: the data plane passes them by position,
    which is measurably cheaper on its per-request path; tests name them.)

    ``host`` is the Host to send (the client's, or the absolute-form
    authority, or the upstream address when a 1.0 client sent none).
    ``has_connection`` says whether a Connection header was seen, so the
    common case skips building the token set.
    """
    drop = connection_tokens(headers) if has_connection else frozenset()
    xff: bytes | None = None
    rid: bytes | None = None
    parts = [method, b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
    for name, value in headers:
        if name in _REQUEST_SKIP or name in drop:
            if name == b"te" and value.strip(b" \t").lower() == b"trailers" and name not in drop:
                parts.append(b"te: trailers\r\n")
            elif name == b"x-forwarded-for":
                xff = value if xff is None else xff + b", " + value
            elif name == b"x-request-id" and rid is None and _valid_request_id(value):
                rid = value
            continue
        parts += (name, b": ", value, b"\r\n")
    if rid is None:
        rid = b"%s-%x" % (_ID_PREFIX, next(_ids))
    parts += (b"x-forwarded-for: ", client_ip if xff is None else xff + b", " + client_ip,
              b"\r\nx-forwarded-proto: ", proto, b"\r\nx-request-id: ", rid, b"\r\n")
    if framing.kind == BODY_LENGTH:
        parts.append(b"content-length: %d\r\n\r\n" % framing.length)
    elif framing.kind == BODY_CHUNKED:
        parts.append(b"transfer-encoding: chunked\r\n\r\n")
    else:
        parts.append(b"\r\n")
    return b"".join(parts), rid


def response_head(
    status: int,
    reason: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    served_by: bytes,
    request_id: bytes,
    content_length: bytes | None,
    chunked: bool,
    keep_alive: bool,
    http10_client: bool,
    has_connection: bool,
    has_request_id: bool | None = None,
) -> bytes:
    """The response head for the client.

    ``content_length`` is the upstream's value to pass on (None when the body
    is chunked or close-delimited); ``chunked`` says the gateway re-chunks the
    body; ``keep_alive`` says whether the client connection stays open;
    ``has_request_id`` (when known) says whether the upstream set X-Request-ID.
    """
    drop = _RESPONSE_DROP | connection_tokens(headers) if has_connection else _RESPONSE_DROP
    line = _STATUS_LINES.get((status, reason))
    if line is None:
        line = _STATUS_LINES[(status, reason)] = b"HTTP/1.1 %d %s\r\n" % (status, reason)
    parts = [line]
    for name, value in headers:  # pieces, not b"%s: %s" % ...: one join formats nothing
        if name not in drop:
            parts += (name, b": ", value, b"\r\n")
    if has_request_id is None:
        has_request_id = header_value(headers, b"x-request-id") is not None
    parts += (b"x-served-by: ", served_by, b"\r\n")
    if not has_request_id:
        parts += (b"x-request-id: ", request_id, b"\r\n")
    if content_length is not None:
        parts += (b"content-length: ", content_length, b"\r\n")
    elif chunked:
        parts.append(b"transfer-encoding: chunked\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    elif http10_client:
        parts.append(b"connection: keep-alive\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def forwarded_proto(headers: Sequence[tuple[bytes, bytes]], default: bytes) -> bytes:
    """The X-Forwarded-Proto a trusted proxy (a TLS terminator) sent, else ``default``.

    Only ``http`` and ``https`` are passed on: the value decides whether an app
    sets Secure cookies and builds https links, so anything odd is ignored.
    """
    for n, v in headers:
        if n == b"x-forwarded-proto":
            v = v.strip(b" \t").lower()
            return v if v in (b"http", b"https") else default
    return default


def is_trusted(ip: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    """Whether a peer address lies in one of the trusted proxy networks."""
    try:
        addr = ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in networks)


def header_value(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of a lower-case header name, or None."""
    for n, v in headers:
        if n == name:
            return v
    return None
