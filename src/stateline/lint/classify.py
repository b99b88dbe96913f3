"""Which rule a write to a state cell breaks, in the precedence docs/lint-rules.md pins.

Pure functions of the write and its cell: the names and shapes that tell an id
generator from a hit counter, a hand-rolled rate limiter from a cache, a
session table from any other dict.
"""

from __future__ import annotations

import re

from stateline.lint.model import Cell, Write
from stateline.lint.values import CONTAINERS

_RATE = re.compile(r"rate_?limit|limiter|bucket|throttl|quota|attempt|too_many|per_minute"
                   r"|per_second|requests_per|hits_per|allowance", re.IGNORECASE)
_SESSION = re.compile(r"session|^_?sess$|logged_in|^_?sids?$", re.IGNORECASE)
_ID_TOKENS = frozenset({"id", "ids", "seq", "sequence", "serial", "pk", "uid", "ticket",
                        "number", "no", "counter_id"})


def id_like(name: str) -> bool:
    """`_next_id`, `ORDER_SEQ`, `next_ticket`: a name that holds the next id."""
    tokens = [t for t in name.lower().strip("_").split("_") if t]
    return bool(tokens) and (tokens[0] == "next" or any(t in _ID_TOKENS for t in tokens))


def rate_like(cell: Cell, w: Write) -> bool:
    """Named like a hand-rolled limiter: the cell or its class. The writing function's
    name is not evidence: a token blocklist written by `check_rate_limit`'s neighbour,
    or rooms joined in a throttled view, are not rate limits."""
    short = cell.name.rsplit(".", 1)[-1]
    if _NOT_RATE.search(short):
        return False
    return bool(_RATE.search(short)
                or (cell.vkind.startswith("instance:") and _RATE.search(cell.vkind)))


_NOT_RATE = re.compile(r"black|block|deny|revok|room|socket|conn|client|subscri", re.I)
_WHAT: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rx, re.IGNORECASE), what) for rx, what in (
        (r"black_?list|block_?list|deny_?list|revoked|jti", "a token blocklist"),
        (r"room", "chat rooms"),
        (r"socket|websocket|^_?ws|conn(ection)?s?$|clients?$|subscri", "connections"),
        (r"session", "a session table"),
        (r"rate_?limit|limiter|bucket|throttl|quota|per_minute|per_second", "rate-limit counters"),
        (r"cache|memo", "a cache"),
        (r"user|account|profile|member", "a per-user store"),
        (r"cart|basket|order", "a per-user store"),
        (r"queue|jobs?$|tasks?$|pending|backlog", "a work queue"),
        (r"count|hits|visits|views|stats|metrics", "counters"),
    ))


def what(cell: Cell) -> str:
    """What the state is, in words, from its name: "a token blocklist", "chat rooms"."""
    short = cell.name.rsplit(".", 1)[-1].removesuffix(" instance")
    for rx, words in _WHAT:
        if rx.search(short):
            return words
    return ""


def rule_for(w: Write, cell: Cell, background: bool) -> str | None:
    """The rule id for a write to `cell`, or None when the write is not accidental state."""
    op = w.op
    how = w.detail[0] if w.detail else ""
    if op == "seed":
        return "SL115"
    if op == "cache_clear":
        return "SL108"
    if op in ("localcache", "lock"):
        return "SL118"
    if op == "memcache":
        return "SL109" if rate_like(cell, w) else "SL119"
    if op == "next":
        return "SL114" if cell.vkind == "count" or "count" in w.detail else "SL103"
    if "ws-remove" in w.detail:
        return None  # the registry is reported once, where connections are added
    short = cell.name.rsplit(".", 1)[-1]
    if op == "rebind":
        if "lazy" in w.detail:
            return None  # `if _x is None: _x = Client()`: lazy creation, not data
        if "+1" in w.detail and (id_like(short) or "as-id" in w.detail):
            return "SL114"
        if how != "del" and rate_like(cell, w):
            return "SL109"
        if background:
            return "SL113"
        if cell.kind == "global" and cell.module != w.module:
            return "SL104"
        return "SL101"
    if op == "read":
        return "SL113" if background else "SL103"
    if "ws" in w.detail:
        return "SL112"
    if cell.vkind == "ttlcache":
        return "SL119"  # bounded, expiring: a deliberate per-process cache
    if rate_like(cell, w) and cell.kind != "app":
        return "SL109"
    if cell.kind in ("global", "closure", "classattr") and cell.vkind in CONTAINERS | {
            "unknown"} and (_SESSION.search(short) or "session-key" in w.detail):
        return "SL110"
    if background:
        return "SL113"
    if cell.kind == "app":
        return "SL116"
    if cell.lazy:
        return "SL117"
    if cell.kind == "default":
        return "SL106"
    if cell.kind in ("classattr", "instance") or op == "classattr":
        return "SL105"
    if cell.vkind.startswith("instance:") and w.text.startswith(("self.", "cls.")):
        return "SL105"
    if cell.kind == "global" and (cell.module != w.module
                                  or "passed-from-another-module" in w.detail):
        return "SL104"
    if how == "aug" and op == "setitem" and cell.vkind in ("counter", "defaultdict"):
        return "SL103"
    return "SL102"


def describe(op: str, detail: tuple[str, ...]) -> str:
    """A verb phrase for the message: what the write does to the cell."""
    how = detail[0] if detail else ""
    if op == "rebind":
        return "deleted" if how == "del" else "rebound"
    if op == "method":
        return f"mutated with .{how}()"
    return {
        "setitem": "item deleted" if how == "del" else "item written",
        "setattr": "attribute written",
        "classattr": "class attribute written",
        "next": "advanced with next()",
        "read": "read (which inserts a key)",
        "seed": "reseeded",
        "cache_clear": "cleared in this process only",
        "localcache": "written in the local-memory cache",
        "memcache": f"written with .{how}() (each process keeps its own entries)",
        "lock": "acquired",
    }.get(op, "written")
