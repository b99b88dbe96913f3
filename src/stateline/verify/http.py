"""The client side of `stateline verify`: one cookie jar per replay, one exchange per step.

The verifier must behave like one browser talking to one site: a cookie set by
whichever replica answered is sent to whichever replica answers next. httpx's
own jar keys cookies by host, and all replicas share 127.0.0.1, so it would
mostly work by accident; the jar here is explicit instead, owned by the replay,
and its rules (set, replace, delete on ``Max-Age=0`` or a past ``Expires``) are
pure functions that the unit tests drive directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from stateline.verify.script import NOT_JSON, RenderedRequest


def apply_set_cookie(
    jar: dict[str, str], set_cookie: Iterable[str], now: datetime | None = None
) -> dict[str, str]:
    """A new jar after the response's ``Set-Cookie`` headers (the input is not changed)."""
    now = now or datetime.now(UTC)
    out = dict(jar)
    for header in set_cookie:
        first, _, attrs = header.partition(";")
        name, eq, value = first.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if _expired(attrs, now):
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _expired(attrs: str, now: datetime) -> bool:
    for attr in attrs.split(";"):
        key, _, val = attr.partition("=")
        key, val = key.strip().lower(), val.strip()
        if key == "max-age":
            try:
                return int(val) <= 0
            except ValueError:
                continue
    for attr in attrs.split(";"):
        key, _, val = attr.partition("=")
        if key.strip().lower() == "expires":
            try:
                when = parsedate_to_datetime(val.strip())
            except (TypeError, ValueError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when <= now
    return False


def cookie_header(jar: dict[str, str]) -> str | None:
    return "; ".join(f"{k}={v}" for k, v in jar.items()) or None


@dataclass(frozen=True)
class Exchange:
    """One request and what came back (or why nothing did)."""

    request: RenderedRequest
    replica: str  # the verifier's name for the replica that was asked
    status: int | None
    headers: httpx.Headers
    content: bytes
    error: str | None = None

    @property
    def served_by(self) -> str | None:
        """What the server says it is, when it says so: ``X-Served-By`` (set by
        gateways, stateline's included) or ``X-Instance-Id`` (set by stateline's app)."""
        return self.headers.get("x-served-by") or self.headers.get("x-instance-id")

    @property
    def json(self) -> Any:
        """The parsed body, or NOT_JSON when the body is empty or not JSON."""
        if self.status is None or not self.content:
            return NOT_JSON
        try:
            return json.loads(self.content)
        except ValueError:
            return NOT_JSON


def exchange(
    client: httpx.Client,
    base_url: str,
    replica: str,
    request: RenderedRequest,
    jar: dict[str, str],
) -> Exchange:
    """Send one request with the replay's cookies; never raises for transport trouble."""
    headers = dict(request.headers)
    cookies = cookie_header(jar)
    if cookies and not any(k.lower() == "cookie" for k in headers):
        headers["Cookie"] = cookies
    try:
        response = client.request(
            request.method,
            base_url.rstrip("/") + request.path,
            headers=headers,
            content=request.content,
        )
        return Exchange(request, replica, response.status_code, response.headers,
                        response.content)
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Exchange(request, replica, None, httpx.Headers(), b"", reason)
    finally:
        # The replay's jar is the only cookie store; httpx's must not add its own.
        client.cookies.clear()


def new_client(timeout_s: float) -> httpx.Client:
    return httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)
