"""Deciding whether two responses are "the same answer" for `stateline verify`.

Two replicas of a stateless service must answer the same script the same way,
but not byte for byte: ids, timestamps and instance names legitimately differ.
The user says which fields those are (*volatile* paths, dropped before
comparing) and which numbers only matter relative to where the replay started
(*relative* paths: a shared counter that was at 7 when this replay began and at
3 when the previous one began). Everything else must match. Pure functions
only, so the rules can be pinned without a server.

Path patterns are dotted: ``id``, ``items.*.created_at`` (``*``: one key or list
index), ``**.instance`` (``**``: any depth, including none).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from stateline.verify.script import NOT_JSON, RUN_VARIABLE, json_lookup

#: What a volatile list element is replaced by (removing it would shift the rest).
VOLATILE_MARK = "<volatile>"
_MAX_FIELD_DIFFS = 8


def split_pattern(pattern: str) -> tuple[str, ...]:
    return tuple(p for p in pattern.strip().split(".") if p != "")


def path_matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Glob-match a concrete JSON path (keys and list indexes as strings)."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(path_matches(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == path[0]) and path_matches(rest, path[1:])


def _any_match(patterns: Iterable[tuple[str, ...]], path: tuple[str, ...]) -> bool:
    return any(path_matches(p, path) for p in patterns)


def path_text(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "(body)"


@dataclass
class Normaliser:
    """Turns one replay's responses into comparable values.

    One normaliser lives for one replay, because relative numbers are measured
    from the first value that replay saw at the same path.
    """

    volatile: tuple[str, ...] = ()
    relative: tuple[str, ...] = ()
    run_token: str = ""
    baselines: dict[tuple[str, ...], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._volatile = [split_pattern(p) for p in self.volatile]
        self._relative = [split_pattern(p) for p in self.relative]

    def json(self, document: Any) -> Any:
        return self._walk(document, ())

    def raw(self, body: bytes) -> bytes:
        if not self.run_token:
            return body
        return body.replace(self.run_token.encode(), ("{" + RUN_VARIABLE + "}").encode())

    def _walk(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                child = (*path, str(k))
                if not _any_match(self._volatile, child):
                    out[self._text(str(k))] = self._walk(v, child)
            return out
        if isinstance(value, list):
            items = []
            for i, v in enumerate(value):
                child = (*path, str(i))
                volatile = _any_match(self._volatile, child)
                items.append(VOLATILE_MARK if volatile else self._walk(v, child))
            return items
        if isinstance(value, str):
            return self._text(value)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and _any_match(self._relative, path):
            base = self.baselines.setdefault(path, value)
            return value - base
        return value

    def _text(self, value: str) -> str:
        if self.run_token and self.run_token in value:
            return value.replace(self.run_token, "{" + RUN_VARIABLE + "}")
        return value


@dataclass(frozen=True)
class Observed:
    """One response as the comparison sees it (already normalised)."""

    status: int | None  # None when no response came back
    error: str | None = None  # why no response came back
    body: Any = NOT_JSON  # normalised JSON, or NOT_JSON for other bodies
    raw: bytes = b""  # the body with the run token replaced, for non-JSON comparison


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs, as compared (after normalisation)."""

    path: str
    reference: Any
    other: Any
    #: For relative numbers: the values as the replicas returned them.
    returned: tuple[Any, Any] | None = None

    def describe(self) -> str:
        text = f"{self.path}: {_short(self.reference)} vs {_short(self.other)}"
        if self.returned is not None:
            a, b = self.returned
            text += f" (relative; as returned {_short(a)} vs {_short(b)})"
        return text


def with_returned_values(
    fields: tuple[FieldDiff, ...], reference_doc: Any, other_doc: Any
) -> tuple[FieldDiff, ...]:
    """Attach the values as returned where normalisation changed them (relative numbers),
    so that a report can show both what was compared and what the replicas said."""
    out = []
    for f in fields:
        a, b = _lookup(reference_doc, f.path), _lookup(other_doc, f.path)
        changed = (a is not ABSENT and a != f.reference) or (b is not ABSENT and b != f.other)
        out.append(replace(f, returned=(a, b)) if changed else f)
    return tuple(out)


def _lookup(doc: Any, dotted: str) -> Any:
    if doc is NOT_JSON:
        return ABSENT
    try:
        return json_lookup(doc, "" if dotted == "(body)" else dotted)
    except KeyError:
        return ABSENT


@dataclass(frozen=True)
class Mismatch:
    """Why two responses differ: ``status``, ``body``, ``no_response`` or ``kind``."""

    reason: str
    fields: tuple[FieldDiff, ...] = ()
    detail: str = ""

    def summary(self) -> str:
        if self.reason == "no_response":
            return "one side got no response"
        if self.reason == "status":
            return f"status codes differ ({self.detail})" if self.detail else "status codes differ"
        if self.reason == "kind":
            return "one body is JSON, the other is not"
        if self.fields:
            return "bodies differ at " + "; ".join(f.describe() for f in self.fields[:3])
        return "bodies differ"


def _short(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False) if value is not NOT_JSON else "(not JSON)"
    return text if len(text) <= 40 else text[:37] + "..."


class _Absent:
    """Marks a field one document has and the other lacks."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


def diff_json(a: Any, b: Any, path: tuple[str, ...] = ()) -> list[FieldDiff]:
    """Where two JSON documents differ, outermost first (at most a handful)."""
    out: list[FieldDiff] = []
    _diff(a, b, path, out)
    return out


def _diff(a: Any, b: Any, path: tuple[str, ...], out: list[FieldDiff]) -> None:
    if len(out) >= _MAX_FIELD_DIFFS:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            _diff(a.get(k, ABSENT), b.get(k, ABSENT), (*path, k), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            left = a[i] if i < len(a) else ABSENT
            right = b[i] if i < len(b) else ABSENT
            _diff(left, right, (*path, str(i)), out)
        return
    if type(a) is not type(b) or a != b:
        # 1 == 1.0 is the same JSON number; True != 1 is not.
        same_number = (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and a == b
        )
        if not same_number:
            out.append(FieldDiff(path_text(path), a, b))


def compare(reference: Observed, other: Observed) -> Mismatch | None:
    """None when ``other`` gives the same answer as ``reference``."""
    if reference.status is None or other.status is None:
        if reference.status is None and other.status is None:
            return None
        return Mismatch("no_response")
    if reference.status != other.status:
        fields: tuple[FieldDiff, ...] = ()
        if reference.body is not NOT_JSON and other.body is not NOT_JSON:
            fields = tuple(diff_json(reference.body, other.body))
        return Mismatch("status", fields, f"{reference.status} vs {other.status}")
    ref_json, other_json = reference.body is not NOT_JSON, other.body is not NOT_JSON
    if ref_json != other_json:
        return Mismatch("kind")
    if ref_json:
        fields = tuple(diff_json(reference.body, other.body))
        return Mismatch("body", fields) if fields else None
    return None if reference.raw == other.raw else Mismatch("body")
