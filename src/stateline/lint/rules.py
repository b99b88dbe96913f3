"""The rule table of `stateline lint`: ids, names, severities, precedence and fixes.

docs/lint-rules.md is the contract; this module is its executable copy. Keeping
the table in one place lets `--select/--ignore`, the reporters, the scorer and
the documentation agree on what a rule is called and how it is fixed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str  # "error" | "warning" | "info" (info and warning never fail the run)
    summary: str
    fix: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("SL001", "syntax-error", "error", "file does not parse",
             "Fix the syntax error; the rest of the tree was still analysed."),
        Rule("SL002", "bare-suppression", "error",
             "`# stateline: allow[...]` without a reason",
             "Write why the state is fine after the bracket: `# stateline: allow[SL101] reason`."),
        Rule("SL101", "global-rebind", "error",
             "module-level name rebound while serving a request",
             "Keep the value in Redis (INCR/INCRBY for counters, SET for values) or a SQL "
             "row, so every instance reads the same one."),
        Rule("SL102", "container-mutation", "error",
             "module- or class-level container mutated while serving a request",
             "Move the data to Redis (HSET/SADD/RPUSH keyed by the request's key) or a SQL "
             "table; keep only read-only tables built at start-up in the process."),
        Rule("SL103", "mutating-read", "error",
             "a read that writes process state (defaultdict lookup, next() on an iterator)",
             "Read with `.get(k, default)` or keep the sequence in Redis (INCR, LMOVE) or SQL."),
        Rule("SL104", "cross-module-alias", "error",
             "another module's state written through an alias or a helper",
             "Give the owning module a store-backed API (Redis HSET/SQL UPDATE) and call it "
             "instead of mutating its objects."),
        Rule("SL105", "class-attribute-mutation", "error",
             "class attribute or per-process instance attribute changed by a request",
             "Keep per-request values in locals or `request.state`; keep shared values in "
             "Redis or SQL, not on a class or a long-lived instance."),
        Rule("SL106", "mutable-default-memo", "error",
             "mutable default argument used as a memo across requests",
             "Default to None and build a fresh object per call; memoise in Redis (SET with "
             "EX) if the result must be shared."),
        Rule("SL107", "cache-on-impure", "warning",
             "lru_cache/cache/cachetools on a function that reads a database, HTTP, files or "
             "the clock",
             "Cache in Redis with an expiry (SET key value EX ttl) so all instances see one "
             "copy and invalidation reaches every instance."),
        Rule("SL108", "cache-clear-in-handler", "error",
             "cache_clear() called from a request only clears this process",
             "Invalidate a shared cache instead (Redis DEL or a version key bumped with INCR)."),
        Rule("SL109", "in-memory-rate-limit", "error",
             "rate limit counted in process memory",
             "Give the limiter a shared storage URI (storage_uri=\"redis://...\") or count "
             "with Redis INCR + EXPIRE per key and window."),
        Rule("SL110", "in-process-session", "error",
             "sessions kept in process memory or on local disk",
             "Keep sessions in Redis (Flask-Session SESSION_TYPE=\"redis\", Django "
             "cache sessions on a Redis cache, or `db`/`signed_cookies` engines)."),
        Rule("SL111", "local-disk-handoff", "error",
             "a file written by one handler and read by another from local disk",
             "Write uploads to a blob store (S3-compatible bucket, stateline's blob store) and "
             "serve them from there, keyed by an id kept in SQL."),
        Rule("SL112", "websocket-registry", "error",
             "WebSocket connections kept in a module-level registry for broadcast",
             "Broadcast through Redis pub/sub (PUBLISH on send, one SUBSCRIBE per instance) "
             "and keep only this instance's sockets as a delivery detail."),
        Rule("SL113", "background-accumulation", "error",
             "a background thread/task accumulates into module state that requests read",
             "Have the background job write to Redis or SQL and let requests read from there."),
        Rule("SL114", "in-process-id-generator", "error",
             "ids made from a process-local counter collide across instances",
             "Use a SQL sequence/autoincrement, Redis INCR on one key, or uuid4/ULIDs."),
        Rule("SL115", "seeded-random", "error",
             "random.seed() in a request path reseeds the process-wide generator",
             "Use a local `random.Random(seed)` per request, or `secrets` for tokens."),
        Rule("SL116", "app-state-mutation", "error",
             "framework app object (app.state, app.config, app[...]) written per request",
             "Set app state only at start-up; keep per-request data in Redis/SQL or "
             "`request.state`."),
        Rule("SL117", "lazy-singleton-with-data", "error",
             "a lazily created singleton that accumulates request data",
             "Create clients lazily if you must, but keep the data they collect in Redis or "
             "SQL."),
        Rule("SL118", "local-coordination", "warning",
             "process-local lock or local-memory cache used to coordinate across instances",
             "Coordinate through the shared tier: Redis SET NX PX as a lock or dedup key, or "
             "a SQL unique constraint / SELECT ... FOR UPDATE."),
        Rule("SL119", "per-process-cache", "info",
             "a per-process cache (short expiry or a size bound, a cache library kept in "
             "memory, or commented as per-process): each instance keeps and refreshes its own copy",
             "Fine for data that may be stale for the expiry on each instance; to share one "
             "copy or invalidate everywhere, cache in Redis (SET key value EX ttl)."),
        Rule("SL120", "per-process-secret", "error",
             "a signing or encryption key made at random in each process",
             "Read the key from the environment or a secret store (the same value on every "
             "instance); generate it once, outside the app."),
        Rule("SL121", "in-memory-store", "error",
             "a library's in-memory store (MemoryStateStore, InMemory*Store, MemorySaver) "
             "written while serving requests",
             "Give the library its Redis/SQL-backed store (or write one against the same "
             "interface), so every instance reads the same entries."),
    )
}

NAMES: dict[str, str] = {r.name: r.id for r in RULES.values()}

# Most specific first: where several rules match one write site, the first wins.
PRECEDENCE: tuple[str, ...] = (
    "SL114", "SL120", "SL121", "SL109", "SL110", "SL112", "SL113", "SL116", "SL117", "SL106",
    "SL105", "SL104", "SL103", "SL101", "SL102", "SL119",
)


class UnknownRuleError(ValueError):
    """A rule given to --select/--ignore that is neither an id nor a name."""


def resolve_rule(token: str) -> str:
    """Map an id (`SL102`, case-insensitive) or a name (`container-mutation`) to an id."""
    token = token.strip()
    if token.upper() in RULES:
        return token.upper()
    if token.lower() in NAMES:
        return NAMES[token.lower()]
    raise UnknownRuleError(f"unknown rule {token!r}")


def parse_rule_list(values: Iterable[str]) -> set[str]:
    """Parse repeated/comma-separated rule options into a set of ids."""
    out: set[str] = set()
    for value in values:
        for token in value.split(","):
            if token.strip():
                out.add(resolve_rule(token))
    return out


def active_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> set[str]:
    """The ids that stay enabled after --select (default: all) and --ignore."""
    chosen = parse_rule_list(select) or set(RULES)
    return chosen - parse_rule_list(ignore)
