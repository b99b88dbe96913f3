"""Request scripts for `stateline verify`: loading, checking, rendering, capturing.

A script is what a user would click through by hand, written down once so that
it can be replayed against one replica, against several in turn, and across
restarts. Everything here is pure (no sockets, no processes), so that a bad
script is rejected before any replica is started and the rules for
``{name}`` substitution and captures can be pinned by unit tests.

File format (JSON or YAML)::

    volatile: [id, "**.created_at"]      # optional: fields ignored when comparing
    relative: [value]                    # optional: numbers compared as offsets
    requests:
      - method: POST
        path: /api/users
        json: {name: Ada, email: "ada-{run}@example.com"}
        capture: {user_id: json.id}
        expect_status: 201
      - {method: GET, path: "/api/users/{user_id}"}

A request body is ``json`` (a document), ``body`` (text) or ``body_base64``
(bytes, e.g. an image). A bare list of requests is accepted too. ``{run}`` is
built in: a token unique to each replay, so that a script can create fresh rows
(unique e-mails, new cart ids) every time it is replayed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The variable every replay defines: a token unique to that replay.
RUN_VARIABLE = "run"

_VARIABLE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_KEYS = frozenset(
    {"name", "method", "path", "headers", "json", "body", "body_base64", "capture",
     "expect_status"}
)
_SCRIPT_KEYS = frozenset({"requests", "volatile", "relative"})


class ScriptError(ValueError):
    """The script cannot be replayed as written (a usage error: exit status 2)."""


@dataclass(frozen=True)
class Capture:
    """Where a captured value comes from: ``json.a.b``, ``header:Name`` or ``cookie:name``."""

    source: str  # "json" | "header" | "cookie"
    key: str  # dotted JSON path ("" = the whole body), header name or cookie name

    @classmethod
    def parse(cls, spec: str) -> Capture:
        spec = spec.strip()
        lowered = spec.lower()
        if lowered.startswith("header:"):
            name = spec[len("header:") :].strip()
            if not name:
                raise ScriptError(f"capture {spec!r}: header name is empty")
            return cls("header", name)
        if lowered.startswith("cookie:"):
            name = spec[len("cookie:") :].strip()
            if not name:
                raise ScriptError(f"capture {spec!r}: cookie name is empty")
            return cls("cookie", name)
        if spec == "json":
            return cls("json", "")
        if spec.startswith("json."):
            spec = spec[len("json.") :]
        if not spec or any(part == "" for part in spec.split(".")):
            raise ScriptError(
                f"capture {spec!r}: expected json.path.to.field, header:Name or cookie:name"
            )
        return cls("json", spec)

    def __str__(self) -> str:
        return f"json.{self.key}" if self.source == "json" else f"{self.source}:{self.key}"


@dataclass(frozen=True)
class Step:
    """One request of the script, before ``{name}`` substitution."""

    index: int  # 1-based, as users count
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    has_json: bool = False
    body: str | None = None
    binary: bytes | None = None  # from body_base64: sent as is, never substituted
    captures: Mapping[str, Capture] = field(default_factory=dict)
    expect_status: int | None = None
    name: str | None = None

    @property
    def title(self) -> str:
        label = f" ({self.name})" if self.name else ""
        return f"#{self.index} {self.method} {self.path}{label}"


@dataclass(frozen=True)
class Script:
    steps: tuple[Step, ...]
    volatile: tuple[str, ...] = ()
    relative: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedRequest:
    """A step with every ``{name}`` replaced: exactly what goes on the wire."""

    method: str
    path: str
    headers: dict[str, str]
    content: bytes | None


def load_script(path: Path) -> Script:
    """Read a script file (``.json``, or YAML for anything else) and check it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot read script {path}: {exc.strerror or exc}") from exc
    return parse_script(text, json_only=path.suffix.lower() == ".json")


def parse_script(text: str, *, json_only: bool = False) -> Script:
    """Parse script text; YAML is a superset of JSON, so YAML parsing is the default."""
    try:
        data = json.loads(text) if json_only else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScriptError(f"script does not parse: {exc}") from exc
    return script_from_data(data)


def script_from_data(data: Any) -> Script:
    if isinstance(data, list):
        data = {"requests": data}
    if not isinstance(data, dict):
        raise ScriptError("a script is a list of requests or a mapping with 'requests'")
    unknown = set(data) - _SCRIPT_KEYS
    if unknown:
        raise ScriptError(f"unknown script keys: {', '.join(sorted(map(str, unknown)))}")
    raw_steps = data.get("requests")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScriptError("the script has no requests")
    steps = tuple(_step(i, raw) for i, raw in enumerate(raw_steps, start=1))
    _check_variables(steps)
    return Script(
        steps=steps,
        volatile=_string_list(data.get("volatile", []), "volatile"),
        relative=_string_list(data.get("relative", []), "relative"),
    )


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScriptError(f"'{what}' must be a list of field paths")
    return tuple(value)


def _step(index: int, raw: Any) -> Step:
    where = f"request #{index}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected a mapping with method and path")
    unknown = set(raw) - _REQUEST_KEYS
    if unknown:
        raise ScriptError(f"{where}: unknown keys: {', '.join(sorted(map(str, unknown)))}")
    method = str(raw.get("method", "GET")).upper()
    if method not in _METHODS:
        raise ScriptError(f"{where}: unsupported method {method!r}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ScriptError(f"{where}: 'path' must be a string starting with '/'")
    if sum(k in raw for k in ("json", "body", "body_base64")) > 1:
        raise ScriptError(f"{where}: give one of 'json', 'body' and 'body_base64'")
    body = raw.get("body")
    if body is not None and not isinstance(body, str):
        raise ScriptError(f"{where}: 'body' must be a string (use 'json' for structured data)")
    binary: bytes | None = None
    if "body_base64" in raw:
        try:
            binary = base64.b64decode(str(raw["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ScriptError(f"{where}: 'body_base64' is not valid base64") from None
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise ScriptError(f"{where}: 'headers' must be a mapping")
    captures_raw = raw.get("capture") or {}
    if not isinstance(captures_raw, dict):
        raise ScriptError(f"{where}: 'capture' must be a mapping of name → source")
    captures: dict[str, Capture] = {}
    for name, spec in captures_raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ScriptError(f"{where}: capture name {name!r} is not an identifier")
        if name == RUN_VARIABLE:
            raise ScriptError(f"{where}: '{RUN_VARIABLE}' is built in and cannot be captured")
        if not isinstance(spec, str):
            raise ScriptError(f"{where}: capture {name!r} must be a string")
        captures[name] = Capture.parse(spec)
    expect = raw.get("expect_status")
    if expect is not None and (not isinstance(expect, int) or not 100 <= expect <= 599):
        raise ScriptError(f"{where}: 'expect_status' must be an HTTP status code")
    name = raw.get("name")
    return Step(
        index=index,
        method=method,
        path=path,
        headers={str(k): str(v) for k, v in headers.items()},
        json_body=raw.get("json"),
        has_json="json" in raw,
        body=body,
        binary=binary,
        captures=captures,
        expect_status=expect,
        name=str(name) if name is not None else None,
    )


def _variables_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {m.group(1) for m in _VARIABLE.finditer(value) if m.group(1)}
    if isinstance(value, dict):
        return set().union(*(_variables_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_variables_in(v) for v in value)) if value else set()
    return set()


def _check_variables(steps: tuple[Step, ...]) -> None:
    """Every ``{name}`` must be captured by an earlier request: fail before replaying."""
    known = {RUN_VARIABLE}
    for step in steps:
        used = _variables_in(step.path) | _variables_in(dict(step.headers))
        used |= _variables_in(step.json_body) | _variables_in(step.body)
        missing = sorted(used - known)
        if missing:
            names = ", ".join("{" + m + "}" for m in missing)
            raise ScriptError(f"{step.title}: uses {names} before any request captures it")
        known |= set(step.captures)


def substitute(text: str, variables: Mapping[str, Any]) -> str:
    """Replace ``{name}`` by its value; ``{{`` and ``}}`` stand for literal braces."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        value = variables[m.group(1)]
        return value if isinstance(value, str) else json.dumps(value)

    return _VARIABLE.sub(repl, text)


def substitute_json(value: Any, variables: Mapping[str, Any]) -> Any:
    """Substitute inside a JSON document; a string that is exactly ``{name}`` takes the
    captured value with its type, so that a captured integer id stays an integer."""
    if isinstance(value, str):
        m = _VARIABLE.fullmatch(value)
        if m and m.group(1):
            return variables[m.group(1)]
        return substitute(value, variables)
    if isinstance(value, dict):
        return {k: substitute_json(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_json(v, variables) for v in value]
    return value


def render(step: Step, variables: Mapping[str, Any]) -> RenderedRequest:
    headers = {k: substitute(v, variables) for k, v in step.headers.items()}
    content: bytes | None = None
    if step.has_json:
        content = json.dumps(substitute_json(step.json_body, variables)).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif step.body is not None:
        content = substitute(step.body, variables).encode()
    elif step.binary is not None:
        content = step.binary
    return RenderedRequest(step.method, substitute(step.path, variables), headers, content)


_MISSING = object()


def json_lookup(document: Any, dotted: str) -> Any:
    """Follow ``a.b.0.c`` into a JSON document; raise KeyError when a part is missing."""
    if dotted == "":
        return document
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            try:
                current = current[int(part)]
            except IndexError:
                raise KeyError(dotted) from None
        else:
            raise KeyError(dotted)
    return current


def capture_value(
    capture: Capture,
    body_json: Any,
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
) -> Any:
    """The captured value, or KeyError when the response does not carry it.

    ``body_json`` is the parsed body, or the module's missing marker when the body
    is not JSON; ``headers`` must be case-insensitive (httpx.Headers is)."""
    if capture.source == "header":
        if capture.key not in headers:
            raise KeyError(str(capture))
        return headers[capture.key]
    if capture.source == "cookie":
        if capture.key not in cookies:
            raise KeyError(str(capture))
        return cookies[capture.key]
    if body_json is _MISSING:
        raise KeyError(str(capture))
    return json_lookup(body_json, capture.key)


NOT_JSON: Any = _MISSING
