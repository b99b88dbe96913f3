"""A workload mix: a weighted list of request templates, and the default one.

A mix file (YAML or JSON) is either a list of requests or a mapping with
``users`` (size of the ``{user}`` pool, default 1000) and ``requests``::

    users: 500
    requests:
      - {name: cart, weight: 20, method: GET, path: "/api/carts/{user}"}
      - name: add-item
        weight: 5
        method: POST
        path: /api/carts/{user}/items
        json: {sku: "sku-{rand:50}", qty: "{rand:1:3}"}
      - {name: resize, weight: 1, method: POST, path: "/api/images/resize?width=32&height=32",
         png: [64, 64]}
      - {name: player, weight: 5, method: GET, path: "/api/players/{user}/position",
         expect: [200, 404]}

Templates: ``{user}`` (``u<n>``, n < users), ``{rand:N}`` (integer in [0, N)),
``{rand:A:B}`` (integer in [A, B]), ``{choice:a|b|c}``. Inside a JSON body a
string that is exactly one ``{rand:...}`` template becomes a JSON number.
``expect`` lists the statuses that count as success (default: any 2xx or 3xx);
other statuses are counted as errors ``http_<status>``.

Everything here is pure: :meth:`Mix.render` turns a template into the bytes of
one HTTP/1.1 request; the generator only writes them.
"""

from __future__ import annotations

import bisect
import io
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_TEMPLATE = re.compile(r"\{(user|rand:\d+(?::\d+)?|choice:[^{}]+)\}")
_JSON_NUMBER = re.compile(r'"\{(rand:\d+(?::\d+)?)\}"')
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
#: Methods that change state: with keys on, each such request gets an Idempotency-Key.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class MixError(ValueError):
    """A mix file that cannot be used, with a sentence saying why."""


Part = str | Callable[[random.Random], str]


def _generator(spec: str, users: int) -> Callable[[random.Random], str]:
    if spec == "user":
        return lambda rng: f"u{rng.randrange(users)}"
    kind, _, arg = spec.partition(":")
    if kind == "rand":
        lo_hi = arg.split(":")
        if len(lo_hi) == 1:
            n = int(lo_hi[0])
            if n < 1:
                raise MixError(f"{{rand:{arg}}} needs N ≥ 1")
            return lambda rng: str(rng.randrange(n))
        lo, hi = int(lo_hi[0]), int(lo_hi[1])
        if hi < lo:
            raise MixError(f"{{rand:{arg}}} needs A ≤ B")
        return lambda rng: str(rng.randint(lo, hi))
    options = arg.split("|")
    return lambda rng: rng.choice(options)


def _compile(text: str, users: int, json_numbers: bool = False) -> list[Part]:
    """Split ``text`` into literal strings and value generators."""
    if json_numbers:
        text = _JSON_NUMBER.sub(lambda m: "{" + m.group(1) + "}", text)
    parts: list[Part] = []
    pos = 0
    for m in _TEMPLATE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append(_generator(m.group(1), users))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def _render(parts: Sequence[Part], rng: random.Random) -> str:
    return "".join(p if isinstance(p, str) else p(rng) for p in parts)


def small_png(width: int, height: int) -> bytes:
    """A generated PNG (a gradient, so it does not compress to nothing) for resize requests."""
    from PIL import Image

    img = Image.new("RGB", (width, height))
    img.putdata(
        [((x * 255) // max(1, width), (y * 255) // max(1, height), 128)
         for y in range(height) for x in range(width)]
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class RequestTemplate:
    """One entry of a mix, compiled."""

    name: str
    weight: float
    method: str
    path: list[Part]
    headers: list[tuple[str, str]]
    body: list[Part] | bytes | None
    expect: frozenset[int] | None
    fixed: bytes | None = None  # the whole request when nothing in it varies

    def ok(self, status: int) -> bool:
        if self.expect is None:
            return 200 <= status < 400
        return status in self.expect


class Mix:
    """A weighted choice of request templates that renders HTTP/1.1 requests."""

    def __init__(self, requests: list[RequestTemplate], host: str = "localhost",
                 base_path: str = "", idempotency_keys: bool = False) -> None:
        if not requests:
            raise MixError("a mix needs at least one request")
        self.requests = requests
        self.host = host
        self.base_path = base_path.rstrip("/")
        #: Give every write a fresh ``Idempotency-Key`` (then no write is ``fixed``).
        self.idempotency_keys = idempotency_keys
        total = 0.0
        self._cumulative: list[float] = []
        for r in requests:
            total += r.weight
            self._cumulative.append(total)
        self._total = total
        for r in requests:
            r.fixed = None
            if all(isinstance(p, str) for p in r.path) and not isinstance(r.body, list) \
                    and not self.keyed(r):
                r.fixed = self._build(r, random.Random(0))

    def with_target(self, host: str, base_path: str = "") -> Mix:
        """The same mix aimed at another host (the ``Host`` header) and path prefix."""
        return Mix(self.requests, host, base_path, self.idempotency_keys)

    def with_idempotency_keys(self, on: bool = True) -> Mix:
        """The same mix, its writes carrying a fresh ``Idempotency-Key`` each (or not)."""
        return Mix(self.requests, self.host, self.base_path, on)

    def keyed(self, template: RequestTemplate) -> bool:
        return self.idempotency_keys and template.method in WRITE_METHODS

    def choose(self, rng: random.Random) -> RequestTemplate:
        i = bisect.bisect_right(self._cumulative, rng.random() * self._total)
        return self.requests[min(i, len(self.requests) - 1)]

    def render(self, template: RequestTemplate, rng: random.Random) -> bytes:
        if template.fixed is not None:
            return template.fixed
        return self._build(template, rng)

    def _build(self, t: RequestTemplate, rng: random.Random) -> bytes:
        path = self.base_path + _render(t.path, rng)
        lines = [f"{t.method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in t.headers]
        if self.keyed(t):
            lines.append(f"Idempotency-Key: {rng.getrandbits(128):032x}")
        body = b""
        if t.body is not None:
            body = t.body if isinstance(t.body, bytes) else _render(t.body, rng).encode()
            lines.append(f"Content-Length: {len(body)}")
        elif t.method in {"POST", "PUT", "PATCH"}:
            lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def describe(self) -> list[dict[str, Any]]:
        """Name, weight share and method of every entry, for reports."""
        return [
            {"name": r.name, "method": r.method, "share": round(r.weight / self._total, 4)}
            for r in self.requests
        ]


def parse_mix(data: Any) -> Mix:
    """Build a :class:`Mix` from parsed YAML/JSON (see the module docstring)."""
    users = 1000
    if isinstance(data, dict):
        users = data.get("users", 1000)
        if not isinstance(users, int) or users < 1:
            raise MixError("users must be a positive integer")
        data = data.get("requests")
    if not isinstance(data, list) or not data:
        raise MixError("a mix is a non-empty list of requests (or a mapping with 'requests')")
    out: list[RequestTemplate] = []
    for n, entry in enumerate(data, 1):
        out.append(_parse_entry(entry, n, users))
    return Mix(out)


def _parse_entry(entry: Any, n: int, users: int) -> RequestTemplate:
    if not isinstance(entry, dict):
        raise MixError(f"request {n}: must be a mapping")
    method = str(entry.get("method", "GET")).upper()
    if method not in METHODS:
        raise MixError(f"request {n}: unknown method {method!r}")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in " \r\n"):
        raise MixError(f"request {n}: path must start with '/' and contain no spaces")
    weight = entry.get("weight", 1)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
        raise MixError(f"request {n}: weight must be a positive number")
    headers_in = entry.get("headers", {}) or {}
    if not isinstance(headers_in, dict):
        raise MixError(f"request {n}: headers must be a mapping")
    headers = [(str(k), str(v)) for k, v in headers_in.items()]
    for k, v in headers:
        if any(c in k + v for c in "\r\n") or ":" in k:
            raise MixError(f"request {n}: bad header {k!r}")
    bodies = [k for k in ("json", "body", "png") if k in entry]
    if len(bodies) > 1:
        raise MixError(f"request {n}: give only one of json, body, png")
    body: list[Part] | bytes | None = None
    if "json" in entry:
        text = json.dumps(entry["json"], separators=(",", ":"))
        body = _compile(text, users, json_numbers=True)
        headers.append(("Content-Type", "application/json"))
    elif "body" in entry:
        body = _compile(str(entry["body"]), users)
    elif "png" in entry:
        size = entry["png"]
        if (not isinstance(size, list) or len(size) != 2
                or not all(isinstance(s, int) and 1 <= s <= 4096 for s in size)):
            raise MixError(f"request {n}: png must be [width, height] within 1..4096")
        body = small_png(size[0], size[1])
        headers.append(("Content-Type", "image/png"))
    expect = entry.get("expect")
    if expect is not None and (
        not isinstance(expect, list) or not all(isinstance(s, int) for s in expect)
    ):
        raise MixError(f"request {n}: expect must be a list of status codes")
    return RequestTemplate(
        name=str(entry.get("name", f"{method} {path}")),
        weight=float(weight),
        method=method,
        path=_compile(path, users),
        headers=headers,
        body=body,
        expect=frozenset(expect) if expect is not None else None,
    )


def load_mix(path: Path) -> Mix:
    """Read a mix file (YAML or JSON: JSON is valid YAML)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MixError(f"cannot read mix {path}: {exc}") from exc
    return parse_mix(data)


def single(method: str, path: str) -> Mix:
    """A mix of one request: what ``stateline bench URL`` sends for a URL with a path."""
    return parse_mix([{"name": f"{method} {path}", "method": method, "path": path}])


#: Like Online Boutique's Locust profile: mostly reads, some cart writes, a few
#: of every other service, and a few CPU-heavy image resizes.
DEFAULT_MIX: dict[str, Any] = {
    "users": 1000,
    "requests": [
        {"name": "cart-view", "weight": 20, "path": "/api/carts/{user}"},
        {"name": "cart-add", "weight": 8, "method": "POST", "path": "/api/carts/{user}/items",
         "json": {"sku": "sku-{rand:50}", "qty": "{rand:1:3}"}},
        {"name": "cart-remove", "weight": 2, "method": "DELETE",
         "path": "/api/carts/{user}/items/sku-{rand:50}", "expect": [200, 204, 404]},
        {"name": "calc", "weight": 15,
         "path": "/api/calc/{choice:add|sub|mul}?a={rand:1000}&b={rand:1000}"},
        {"name": "currency", "weight": 15,
         "path": "/api/currency/convert?amount={rand:1:1000}&from=EUR&to={choice:USD|GBP|JPY|CHF}"},
        {"name": "counter-read", "weight": 5, "path": "/api/counter"},
        {"name": "counter-incr", "weight": 3, "method": "POST", "path": "/api/counter/incr"},
        {"name": "session-login", "weight": 3, "method": "POST", "path": "/api/sessions",
         "json": {"user": "{user}"}},
        {"name": "player-move", "weight": 6, "method": "PUT",
         "path": "/api/players/{user}/position",
         "json": {"x": "{rand:1000}", "y": "{rand:1000}"}},
        {"name": "player-get", "weight": 10, "path": "/api/players/{user}/position",
         "expect": [200, 404]},
        {"name": "users-list", "weight": 3, "path": "/api/users?limit=10"},
        {"name": "image-resize", "weight": 2, "method": "POST",
         "path": "/api/images/resize?width=32&height=32", "png": [64, 64]},
    ],
}


def default_mix() -> Mix:
    return parse_mix(DEFAULT_MIX)
