"""Header rewriting in both directions: pure functions over lower-cased byte pairs.

A proxy is two connections glued together, and hop-by-hop headers describe one
connection, not the message; forwarding them lets a client steer the
gateway's upstream connection (``Connection: close``, ``Upgrade``) or leak
credentials meant for the proxy (``Proxy-Authorization``). So both directions
drop them, plus any header the Connection header names.

The gateway then adds what the upstream needs to know about the client
(X-Forwarded-For, X-Forwarded-Proto — both kept only from a trusted proxy, see
:func:`forwarded_proto` — X-Request-ID) and what the client needs
to know about the path its request took (X-Served-By). What a client says
about itself is not believed: its X-Forwarded-For is replaced by its address
unless it is a trusted proxy, ``Forwarded`` (which the gateway does not write,
so an app reading it would read only what the client made up) and
``X-Served-By`` (the gateway's own response header) are dropped, and an
X-Request-ID that is long or has odd bytes (it ends up in logs) is replaced.
Heads are built as one ``bytes`` join: this runs once per request on the hot path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

from stateline.gateway.errors import cached_reason
from stateline.gateway.framing import BODY_CHUNKED, BODY_LENGTH, NO_BODY, BodyFraming

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
                          b"x-request-id", b"expect", b"host", b"forwarded", b"x-served-by"})
_RESPONSE_OWN = frozenset({b"content-length", b"x-served-by"})
_RESPONSE_DROP = HOP_BY_HOP | _RESPONSE_OWN
_REQUEST_SKIP = HOP_BY_HOP | _REQUEST_OWN
MAX_REQUEST_ID = 128
#: Bytes a client's X-Request-ID may use: enough for UUIDs, ULIDs, base64 and dotted ids,
#: nothing that could break a log line or a header (no spaces, quotes, ``;``, ``%``).
REQUEST_ID_CHARS = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                    b"-_.:+/=@")

_ID_PREFIX = os.urandom(6).hex().encode()
_ID_DASH = _ID_PREFIX + b"-"
_ID_DASH_TEXT = _ID_DASH.decode("ascii")
_last_id = 0  # ids handed out by this process so far


def _new_id_prefix() -> None:
    """A fresh random prefix (and counter) for a forked process.

    ``--workers N`` forks its workers after this module was imported: without
    this they would all share the parent's prefix and count from the same
    number, handing out the same request ids.
    """
    global _ID_PREFIX, _ID_DASH, _ID_DASH_TEXT, _last_id
    _ID_PREFIX = os.urandom(6).hex().encode()
    _ID_DASH = _ID_PREFIX + b"-"
    _ID_DASH_TEXT = _ID_DASH.decode("ascii")
    _last_id = 0


os.register_at_fork(after_in_child=_new_id_prefix)


def new_request_id() -> bytes:
    """A request id unique across processes: random per-process prefix + counter (cheap).

    Built as text and encoded: compiled, the f-string formats the counter in C,
    where ``prefix + b"%x" % next(counter)`` costs a bytes format, an
    iterator call and a concatenation (about 1,000 instructions per request).
    """
    global _last_id
    _last_id += 1
    return f"{_ID_DASH_TEXT}{_last_id:x}".encode("ascii")


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
    # translate() deletes the allowed bytes in C: anything left over is not allowed
    return 0 < len(value) <= MAX_REQUEST_ID and not value.translate(None, REQUEST_ID_CHARS)


#: The header a client marks a request with to say a retry is harmless (``GatewayConfig``).
DEFAULT_IDEMPOTENCY_HEADER = b"idempotency-key"


def request_specials(idempotency_header: bytes) -> frozenset[bytes]:
    """Request field names whose values decide something, the idempotency key's among them."""
    return _REQUEST_SKIP | {idempotency_header}


FILTER_MAX_LEN = 64


def name_filter(names: frozenset[bytes]) -> bytes:
    """A table that rules out, without lower-casing or hashing, most names not in ``names``.

    Indexed by ``(len(name) << 5) | (name[0] & 31)`` for names shorter than
    ``FILTER_MAX_LEN``: a field name can only equal (case-insensitively) a
    name in the set if its entry is non-zero, since the low five bits of a
    letter are the same in both cases. Other bytes may share an entry (a
    false positive only sends the name down the exact path); a lower-cased
    name of the set always finds its own, so nothing special is ever missed.
    Most fields (Server, Date, Content-Type, User-Agent, Accept...) stop at
    this one byte read.
    """
    table = bytearray(FILTER_MAX_LEN << 5)
    for name in names:
        if 0 < len(name) < FILTER_MAX_LEN:
            table[(len(name) << 5) | (name[0] & 31)] = 1
    return bytes(table)


def maybe_special(table: bytes, name: bytes) -> bool:
    """Whether ``name`` may be one of the names ``table`` was built from (see name_filter)."""
    n = len(name)
    return n == 0 or n >= FILTER_MAX_LEN or table[(n << 5) | (name[0] & 31)] != 0


_REQUEST_SPECIAL = request_specials(DEFAULT_IDEMPOTENCY_HEADER)
REQUEST_FILTER = _REQUEST_FILTER = name_filter(_REQUEST_SPECIAL)
_RESPONSE_SPECIAL = _RESPONSE_DROP | {b"x-request-id"}
# Most response fields (Server, Date, Cache-Control, ETag...) are passed on without
# lower-casing and hashing them: the filter rules them out with one byte read.
RESPONSE_FILTER = name_filter(_RESPONSE_SPECIAL)
_RESPONSE_FILTER = RESPONSE_FILTER  # compiled: a C-level global (headers.pxd)
_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close"})
_REQUEST_LINE = (b"", b" ", b"", b" HTTP/1.1\r\nhost: ", b"", b"\r\n")  # method, target, host
_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 NNN Reason\\r\\n`` with the standard phrase (memoised per status)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, cached_reason(status))
    return line


_STATUS_200 = status_line(200)  # most answers: no call, no dict lookup


def forwarded_fields(client_ip: bytes, proto: bytes) -> bytes:
    """The X-Forwarded-For/-Proto fields for an untrusted client, up to X-Request-ID's value."""
    return b"x-forwarded-for: " + client_ip + b"\r\nx-forwarded-proto: " + proto + \
        b"\r\nx-request-id: "


class RequestHeaders:
    """A request's header section as the parser delivers it, kept ready to forward.

    Header fields the upstream gets unchanged are appended as output pieces
    (name, ``": "``, value, CRLF, in the client's own spelling) the moment they
    are parsed, so the upstream head is a single join; fields whose values
    decide something (framing, Host, Expect, the hop-by-hop ones, the ones the
    gateway rewrites) are held in ``specials`` as lower-cased pairs instead.
    ``count`` and ``size`` feed the 431 limits. Two collectors live on each
    client connection and take turns: one collects a head while the other,
    just filled, is read; it is ``reset`` before it collects again.
    """

    __slots__ = ("count", "filter", "idempotency", "pieces", "size", "special", "specials")

    def __init__(self, idempotency: bytes = DEFAULT_IDEMPOTENCY_HEADER,
                 special: frozenset[bytes] = _REQUEST_SPECIAL,
                 filter: bytes | None = None) -> None:
        # The configured key header (lower case), request_specials() of it, and
        # name_filter() of that (passed on from one head's collector to the next).
        self.idempotency = idempotency
        self.special = special
        if filter is None:
            filter = _REQUEST_FILTER if special is _REQUEST_SPECIAL else name_filter(special)
        self.filter = filter
        self.pieces: list[bytes] = list(_REQUEST_LINE)
        self.specials: list[tuple[bytes, bytes]] = []
        self.count = 0
        self.size = 0

    def reset(self) -> None:
        self.pieces = list(_REQUEST_LINE)
        self.specials = []
        self.count = 0
        self.size = 0

    def add(self, name: bytes, value: bytes) -> None:
        n = len(name)
        self.count += 1
        self.size += n + len(value) + 4
        # (maybe_special, inlined: this runs for every request field)
        if n == 0 or n >= FILTER_MAX_LEN or self.filter[(n << 5) | (name[0] & 31)]:
            lname = name.lower()
            if lname in self.special:
                self.specials.append((lname, value))
                if lname != self.idempotency:  # decides retries, and still goes upstream
                    return
        pieces = self.pieces
        pieces.append(name)
        pieces.append(b": ")
        pieces.append(value)
        pieces.append(b"\r\n")

    def items(self) -> list[tuple[bytes, bytes]]:
        """Every field as a lower-cased pair (for admin, key routing, rate-limit keys)."""
        pieces = self.pieces
        plain = [(pieces[i].lower(), pieces[i + 2]) for i in range(len(_REQUEST_LINE),
                                                                   len(pieces), 4)]
        return [*self.specials, *(p for p in plain if p[0] != self.idempotency)]

    def head(self, method: bytes, target: bytes, host: bytes, client_ip: bytes, proto: bytes,
             framing: BodyFraming, has_connection: bool,
             trusted: bool = False, forwarded: bytes | None = None) -> tuple[bytes, bytes]:
        """The HTTP/1.1 request head for the upstream, and the request id it carries.

        ``host`` is the Host to send (the client's, the absolute-form
        authority, or a default for a 1.0 client that sent none);
        ``has_connection`` says a Connection header named other fields, which
        are then dropped too (the rare slow path); ``trusted`` says the peer is
        a trusted proxy, whose X-Forwarded-For is kept (and appended to).
        ``forwarded`` is :func:`forwarded_fields` of ``client_ip`` and
        ``proto``, when the caller keeps it (a client connection makes it once):
        one piece to join instead of five. Call once per collected head.
        """
        pieces = self.pieces
        if has_connection:
            drop = connection_tokens(self.specials)
            kept = pieces[:len(_REQUEST_LINE)]
            for i in range(len(_REQUEST_LINE), len(pieces), 4):
                if pieces[i].lower() not in drop:
                    kept += pieces[i:i + 4]
            pieces = kept
        else:
            drop = frozenset()
        pieces[0] = method
        pieces[2] = target
        pieces[4] = host
        xff: bytes | None = None
        rid: bytes | None = None
        for name, value in self.specials:
            if name == b"te":
                if value.strip(b" \t").lower() == b"trailers" and name not in drop:
                    pieces.append(b"te: trailers\r\n")
            elif name == b"x-forwarded-for":
                if trusted:
                    xff = value if xff is None else xff + b", " + value
            elif name == b"x-request-id" and rid is None and _valid_request_id(value):
                rid = value
        if rid is None:
            rid = new_request_id()
        if xff is None and forwarded is not None:
            pieces.append(forwarded)  # the same as the five pieces below
        else:
            pieces.append(b"x-forwarded-for: ")
            pieces.append(client_ip if xff is None else xff + b", " + client_ip)
            pieces.append(b"\r\nx-forwarded-proto: ")
            pieces.append(proto)
            pieces.append(b"\r\nx-request-id: ")
        pieces.append(rid)
        if framing is NO_BODY:  # most requests: no attribute read
            pieces.append(b"\r\n\r\n")
        elif framing.kind == BODY_LENGTH:
            pieces.append(b"\r\ncontent-length: %d\r\n\r\n" % framing.length)
        elif framing.kind == BODY_CHUNKED:
            pieces.append(b"\r\ntransfer-encoding: chunked\r\n\r\n")
        else:
            pieces.append(b"\r\n\r\n")
        return b"".join(pieces), rid


class ResponseHeaders:
    """An upstream response's header section as the parser delivers it, kept ready to send on.

    The same idea as :class:`RequestHeaders`: fields the client may see are
    output pieces at once (in the instance's spelling); hop-by-hop, framing
    and the gateway's own fields are held back, recording only what the
    exchange needs to decide the client's framing: ``content_length``,
    ``transfer_encoding``, ``has_request_id``, and ``connection`` (the values
    of Connection headers that name other fields: the rare slow path).
    """

    __slots__ = ("connection", "content_length", "has_request_id", "pieces", "size",
                 "transfer_encoding", "upgrade")

    def __init__(self) -> None:
        self.pieces: list[bytes] = [b""]  # [0]: the status line, set by head()
        self.content_length: bytes | None = None
        self.transfer_encoding = False
        self.has_request_id = False
        self.connection: list[tuple[bytes, bytes]] | None = None
        self.upgrade: list[bytes] | None = None  # Upgrade values (a 101 relays them: tunnel.py)
        self.size = 0  # bytes of field lines so far (the connection caps it)

    def reset(self) -> None:
        self.pieces = [b""]
        self.size = 0
        self.content_length = None
        self.transfer_encoding = False
        self.has_request_id = False
        self.connection = None
        self.upgrade = None

    def add(self, name: bytes, value: bytes) -> None:
        n = len(name)
        self.size += n + len(value) + 4
        # (maybe_special, inlined: this runs for every response field)
        if n == 0 or n >= FILTER_MAX_LEN or _RESPONSE_FILTER[(n << 5) | (name[0] & 31)]:
            lname = name.lower()
            if lname == b"content-length":
                self.content_length = value
                return
            if lname == b"transfer-encoding":
                self.transfer_encoding = True
                return
            if lname == b"connection":
                if value.lower() not in _PLAIN_CONNECTION:
                    if self.connection is None:
                        self.connection = []
                    self.connection.append((lname, value))
                return
            if lname == b"upgrade":
                if self.upgrade is None:
                    self.upgrade = []
                self.upgrade.append(value.strip(b" \t"))
                return
            if lname == b"x-request-id":
                self.has_request_id = True  # the instance's own id goes on to the client
            elif lname in _RESPONSE_DROP:
                return
        pieces = self.pieces
        pieces.append(name)
        pieces.append(b": ")
        pieces.append(value)
        pieces.append(b"\r\n")

    def head(self, status: int, served_by: bytes, request_id: bytes,
             content_length: bytes | None, chunked: bool, keep_alive: bool,
             http10_client: bool) -> bytes:
        """The response head for the client (call once per collected head).

        ``content_length`` is the value to pass on (None when the body is
        chunked or close-delimited); ``chunked`` says the gateway re-chunks the
        body; ``keep_alive`` says whether the client connection stays open.
        """
        pieces = self.pieces
        if self.connection is not None:
            drop = connection_tokens(self.connection)
            kept = [b""]
            for i in range(1, len(pieces), 4):
                if pieces[i].lower() not in drop:
                    kept += pieces[i:i + 4]
            pieces = kept
        pieces[0] = _STATUS_200 if status == 200 else status_line(status)
        pieces.append(b"x-served-by: ")
        pieces.append(served_by)
        if not self.has_request_id:
            pieces.append(b"\r\nx-request-id: ")
            pieces.append(request_id)
        if content_length is not None:
            pieces.append(b"\r\ncontent-length: ")
            pieces.append(content_length)
        elif chunked:
            pieces.append(b"\r\ntransfer-encoding: chunked")
        if not keep_alive:
            pieces.append(b"\r\nconnection: close\r\n\r\n")
        elif http10_client:
            pieces.append(b"\r\nconnection: keep-alive\r\n\r\n")
        else:
            pieces.append(b"\r\n\r\n")
        return b"".join(pieces)


def request_head(
    method: bytes,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    host: bytes,
    client_ip: bytes,
    proto: bytes,
    framing: BodyFraming,
    has_connection: bool,
    trusted: bool = False,
) -> tuple[bytes, bytes]:
    """:meth:`RequestHeaders.head` for a list of header pairs (tools and tests)."""
    collected = RequestHeaders()
    for name, value in headers:
        collected.add(name, value)
    return collected.head(method, target, host, client_ip, proto, framing, has_connection,
                          trusted)


def response_head(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    served_by: bytes,
    request_id: bytes,
    content_length: bytes | None,
    chunked: bool,
    keep_alive: bool,
    http10_client: bool,
) -> bytes:
    """:meth:`ResponseHeaders.head` for a list of header pairs (tools and tests)."""
    collected = ResponseHeaders()
    for name, value in headers:
        collected.add(name, value)
    return collected.head(status, served_by, request_id, content_length, chunked, keep_alive,
                          http10_client)


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
