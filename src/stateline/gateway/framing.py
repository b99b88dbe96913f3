"""Request framing and limits: pure decisions about where a message ends.

Request smuggling happens when two parties in a chain disagree about where
one request ends and the next begins. llhttp (via httptools) already refuses
most ambiguous messages; this module adds the rules a *proxy* needs on top of
a parser, and pins every one of them in one place so they can be tested
without sockets:

- Transfer-Encoding must be exactly ``chunked`` (one header, one coding). A
  proxy that accepted ``gzip, chunked`` or two TE headers would hand the
  upstream a message it may frame differently.
- Transfer-Encoding together with Content-Length is refused, not "resolved".
- Transfer-Encoding on an HTTP/1.0 request is refused (1.0 has no chunking).
- An upgrade request (an ``Upgrade`` header, and ``upgrade`` listed in
  ``Connection`` or ``Proxy-Connection``) has no body: llhttp stops at the end
  of its head (what follows belongs to the new protocol), so a declared body
  would be read as the next request.
- Content-Length must be one run of ASCII digits.
- HTTP/1.1 requests carry exactly one Host.

Every refusal closes the connection (the byte stream can no longer be
trusted) and nothing is forwarded. Limits answer 431 / 414 / 413; request
lines that are not HTTP/1.0 or 1.1 answer 505 (2.x and later) or 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_HEADER_BYTES = 64 * 1024
MAX_TARGET_BYTES = 8 * 1024
# Request header fields. The gateway adds three of its own (X-Forwarded-For,
# X-Forwarded-Proto, X-Request-ID), and common app servers refuse more than
# 100 fields (granian, which runs stateline's app, answers an empty 431): 96
# keeps every request the gateway forwards within that, so a client hears a
# JSON 431 from the gateway instead of an empty one from an instance.
MAX_HEADERS = 96
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024

# How the request body reaches the upstream.
BODY_NONE = 0
BODY_LENGTH = 1
BODY_CHUNKED = 2

_MAX_CL_DIGITS = 18  # fits an int64 with room to spare


class FramingError(Exception):
    """The request cannot be forwarded; answer ``status`` and close the connection."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class BodyFraming:
    kind: int  # BODY_NONE | BODY_LENGTH | BODY_CHUNKED
    length: int = 0


NO_BODY = BodyFraming(BODY_NONE)


def parse_content_length(value: bytes) -> int:
    """The value of one Content-Length header, or FramingError (no signs, lists or spaces)."""
    v = value.strip(b" \t")
    if not v or len(v) > _MAX_CL_DIGITS or not v.isdigit():
        raise FramingError(400, "bad_content_length", "Content-Length must be one number")
    return int(v)


def request_body_framing(
    headers: Sequence[tuple[bytes, bytes]], http_version: str, max_body: int
) -> BodyFraming:
    """Decide the request body framing from lower-cased headers, or raise FramingError."""
    te: list[bytes] = []
    cl: list[bytes] = []
    hosts = 0
    upgrade = connection_upgrade = False
    for name, value in headers:
        if name == b"transfer-encoding":
            te.append(value)
        elif name == b"content-length":
            cl.append(value)
        elif name == b"host":
            hosts += 1
        elif name == b"upgrade":
            upgrade = True
        elif name in (b"connection", b"proxy-connection") and not connection_upgrade:
            # llhttp reads "upgrade" in either one (and then ends the request at its head)
            connection_upgrade = any(t.strip(b" \t").lower() == b"upgrade"
                                     for t in value.split(b","))
    if http_version == "1.1" and hosts != 1:
        raise FramingError(400, "bad_host", "an HTTP/1.1 request needs exactly one Host header")
    framing = _body_framing(te, cl, http_version, max_body)
    if upgrade and connection_upgrade and framing.kind != BODY_NONE:
        # llhttp ends an upgrade request at its head whatever the head declares:
        # refuse, rather than let the body be parsed as a request of its own.
        raise FramingError(400, "upgrade_with_body", "an Upgrade request cannot carry a body")
    return framing


def _body_framing(te: list[bytes], cl: list[bytes], http_version: str,
                  max_body: int) -> BodyFraming:
    if te:
        if cl:
            raise FramingError(
                400, "ambiguous_framing", "Transfer-Encoding and Content-Length together"
            )
        if http_version != "1.1":
            raise FramingError(400, "bad_transfer_encoding", "Transfer-Encoding needs HTTP/1.1")
        if len(te) != 1 or te[0].strip(b" \t").lower() != b"chunked":
            raise FramingError(
                400, "bad_transfer_encoding", "only one Transfer-Encoding: chunked is accepted"
            )
        return BodyFraming(BODY_CHUNKED)
    if cl:
        if len(cl) != 1:
            raise FramingError(400, "bad_content_length", "more than one Content-Length")
        n = parse_content_length(cl[0])
        if n > max_body:
            raise FramingError(413, "body_too_large", f"request body over {max_body} bytes")
        return BodyFraming(BODY_LENGTH, n) if n else NO_BODY
    return NO_BODY


def check_http_version(version: str) -> None:
    """Refuse anything but HTTP/1.0 and 1.1 (llhttp also parses 0.9 and 2.0 request lines).

    HTTP/2 and later never arrive in an HTTP/1 request line from a real client
    (h2c upgrades and prior knowledge look different), so 2.x+ is answered 505;
    an HTTP/0.9-style line without a version is simply malformed: 400.
    """
    if version in ("1.1", "1.0"):
        return
    if version[:1].isdigit() and int(version.split(".")[0]) >= 2:
        raise FramingError(505, "http_version_not_supported", f"HTTP/{version} is not supported")
    raise FramingError(400, "bad_http_version", "request line needs HTTP/1.0 or HTTP/1.1")


def check_header_count(count: int, limit: int = MAX_HEADERS) -> None:
    if count > limit:
        raise FramingError(431, "too_many_headers", f"more than {limit} request headers")


def check_target_size(size: int, limit: int = MAX_TARGET_BYTES) -> None:
    if size > limit:
        raise FramingError(414, "uri_too_long", f"request target over {limit} bytes")


def check_header_size(size: int, limit: int = MAX_HEADER_BYTES) -> None:
    if size > limit:
        raise FramingError(431, "headers_too_large", f"request headers over {limit} bytes")


def origin_form(method: bytes, target: bytes) -> tuple[bytes, bytes | None]:
    """The origin-form target to forward, and the authority of an absolute-form target.

    An absolute-form target (``GET http://other/x``) is reduced to its path and
    routed like any other request: the gateway only ever talks to its own
    pools, so it can never be used as an open forward proxy. CONNECT and
    authority-form are refused outright.
    """
    if target[:1] == b"/":
        return target, None
    if target == b"*" and method == b"OPTIONS":
        return target, None
    if method == b"CONNECT":
        raise FramingError(405, "method_not_allowed", "CONNECT is not supported")
    lower = target[:8].lower()
    if lower.startswith(b"http://") or lower.startswith(b"https://"):
        rest = target[target.index(b"//") + 2 :]
        cut = len(rest)
        for sep in (b"/", b"?"):
            i = rest.find(sep)
            if i != -1 and i < cut:
                cut = i
        authority, path = rest[:cut], rest[cut:]
        if not authority or b"@" in authority:
            raise FramingError(400, "bad_target", "bad authority in absolute-form target")
        if not path.startswith(b"/"):
            path = b"/" + path
        return path, authority
    raise FramingError(400, "bad_target", "request target must be a path or an absolute URL")


def path_of(target: bytes) -> bytes:
    """The path part of an origin-form target (no query)."""
    i = target.find(b"?")
    return target if i == -1 else target[:i]


def response_has_body(request_method: bytes, status: int) -> bool:
    """Whether a response to ``request_method`` with ``status`` may carry a body (RFC 9112 §6.3)."""
    return not (request_method == b"HEAD" or status in (204, 304) or 100 <= status < 200)
