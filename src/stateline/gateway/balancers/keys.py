"""Where a key-routed pool takes its routing key from.

A stateful pool routes by something that names the state: a user id header, a
session cookie, a path segment such as ``/carts/<id>/items``, or a query
parameter. The spec string is parsed once when the configuration is loaded;
``extract`` then runs per request on the raw request target and the header
list the parser produced, without building a URL object or a header dict.

Path segments and query values are percent-decoded, so ``/users/a%20b`` and
``/users/a b`` (if a client sent it) route alike; an absent or empty value
gives None and the balancer falls back to a keyless choice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_to_bytes

Kind = Literal["header", "cookie", "path", "query"]
_KINDS: tuple[Kind, ...] = ("header", "cookie", "path", "query")
# RFC 9110 token characters: what a header or cookie name may contain.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


@dataclass(frozen=True, slots=True)
class KeySource:
    """One place to read a routing key from: ``kind`` and its ``name`` or segment ``index``."""

    kind: Kind
    name: bytes = b""  # header name (lower case), cookie name or query parameter
    index: int = 0  # 1-based path segment for kind "path"

    @classmethod
    def parse(cls, spec: str) -> KeySource:
        """``header:X-User-Id`` | ``cookie:session_id`` | ``path:3`` | ``query:user``."""
        kind, sep, arg = spec.partition(":")
        kind = kind.strip().lower()
        arg = arg.strip()
        if not sep or kind not in _KINDS or not arg:
            raise ValueError(
                f"bad key source {spec!r}: want header:NAME, cookie:NAME, path:N or query:NAME"
            )
        if kind == "path":
            if not arg.isdigit() or int(arg) < 1:
                raise ValueError(f"bad key source {spec!r}: path segment must be an integer >= 1")
            return cls("path", index=int(arg))
        if kind in ("header", "cookie") and not _TOKEN.match(arg):
            raise ValueError(f"bad key source {spec!r}: {arg!r} is not a valid {kind} name")
        if kind == "header":
            return cls("header", name=arg.lower().encode("ascii"))
        return cls(kind, name=arg.encode("utf-8"))  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.kind == "path":
            return f"path:{self.index}"
        return f"{self.kind}:{self.name.decode()}"

    def extract(self, target: bytes, headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
        """The key for one request, or None when the request does not carry one.

        ``target`` is the raw request target (path and query); header names in
        ``headers`` are lower-case bytes, as the data plane's parser gives them.
        """
        kind = self.kind
        if kind == "header":
            name = self.name
            for k, v in headers:
                if k == name:
                    v = v.strip()
                    return v or None
            return None
        if kind == "cookie":
            return self._cookie(headers)
        path, _, query = target.partition(b"?")
        if kind == "path":
            segments = path.split(b"/")
            # "/a/b" splits to ["", "a", "b"]: segment 1 is "a".
            if self.index < len(segments):
                value = segments[self.index]
                if value:
                    return unquote_to_bytes(value) if b"%" in value else value
            return None
        return self._query(query)

    def _cookie(self, headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
        name = self.name
        for k, v in headers:
            if k != b"cookie":
                continue
            for pair in v.split(b";"):
                cname, eq, cvalue = pair.partition(b"=")
                if eq and cname.strip() == name:
                    cvalue = cvalue.strip()
                    if len(cvalue) >= 2 and cvalue[:1] == b'"' and cvalue[-1:] == b'"':
                        cvalue = cvalue[1:-1]
                    return cvalue or None
        return None

    def _query(self, query: bytes) -> bytes | None:
        if not query:
            return None
        query = query.partition(b"#")[0]
        name = self.name
        for pair in query.split(b"&"):
            qname, _, qvalue = pair.partition(b"=")
            if b"%" in qname or b"+" in qname:
                qname = unquote_to_bytes(qname.replace(b"+", b" "))
            if qname == name:
                if b"%" in qvalue or b"+" in qvalue:
                    qvalue = unquote_to_bytes(qvalue.replace(b"+", b" "))
                return qvalue or None
        return None
