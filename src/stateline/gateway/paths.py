"""Request-target normalisation: one spelling of a path for routing, limits and the app.

Routes and rate limits match path prefixes, and apps decode percent-escapes
and (some) resolve dot segments before routing. If the gateway matched the raw
target, ``/api/%63arts/x`` or ``/x/../api/carts`` would miss the
``/api/carts`` route (and its rate limit) at the gateway, yet reach the carts
handler in the app. So the path is normalised once, before the admin check,
routing and limiting, and the normalised target is what goes upstream:
the gateway and the app see the same path.

What is done (RFC 3986 §6.2.2):

- escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded;
  other escapes are kept, with upper-case hex;
- dot segments (``.``/``..``, also when spelled ``%2e``) are resolved, never
  above the root;
- an encoded slash (``%2F``) is refused with 400 ``encoded_slash``: most
  frameworks decode it into ``/`` before routing, so ``/api/carts%2Fx`` would
  be one path to the gateway and another to the app, and which one depends on
  the app. Refusing it leaves one meaning (proxies such as Apache do the same
  by default, ``AllowEncodedSlashes Off``);
- a malformed escape (``%zz``, a lone ``%``) is refused with 400 ``bad_path``;
- the query string is left as it is (it takes no part in routing).

Only targets containing ``%`` or ``/.`` take this path; :func:`needs_normalising`
is the hot path's cheap test.
"""

from __future__ import annotations

from stateline.gateway.framing import FramingError

_HEX = b"0123456789ABCDEFabcdef"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def needs_normalising(path: bytes) -> bool:
    """Whether ``path`` may differ from its normal form (escapes or dot segments).

    The client connection inlines this very test (ints: a memchr each).
    """
    return 37 in path or (46 in path and b"/." in path)


def _decode_unreserved(path: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(path)
    while i < n:
        c = path[i]
        if c != 37:  # "%"
            out.append(c)
            i += 1
            continue
        pair = path[i + 1:i + 3]
        if len(pair) < 2 or pair[0] not in _HEX or pair[1] not in _HEX:
            raise FramingError(400, "bad_path", "malformed percent-encoding in the path")
        value = int(pair, 16)
        if value == 47:  # "/"
            raise FramingError(400, "encoded_slash",
                               "an encoded slash (%2F) in the path is not accepted")
        if value in _UNRESERVED:
            out.append(value)
        else:
            out += b"%" + pair.upper()
        i += 3
    return bytes(out)


def remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 §5.2.4 for an absolute path (``/a/./b/../c`` → ``/a/c``)."""
    segments = path.split(b"/")[1:]
    out: list[bytes] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == b"..":
            if out:
                out.pop()
            if last:
                out.append(b"")
        elif seg == b".":
            if last:
                out.append(b"")
        else:
            out.append(seg)
    return b"/" + b"/".join(out)


def normalise_path(path: bytes) -> bytes:
    """The normal form of an origin-form path (no query); FramingError (400) if refused."""
    if b"%" in path:
        path = _decode_unreserved(path)
    if b"/." in path:
        path = remove_dot_segments(path)
    return path


def normalise_target(target: bytes) -> tuple[bytes, bytes]:
    """``(target, path)`` normalised: the path part only; the query is kept as sent."""
    q = target.find(b"?")
    path, query = (target, b"") if q < 0 else (target[:q], target[q:])
    path = normalise_path(path)
    return path + query, path
