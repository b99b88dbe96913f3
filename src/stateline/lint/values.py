"""What a defining expression puts in a cell: the vocabulary of known constructors.

The analyser never imports the code it reads, so it learns what a global holds
from the expression that binds it: `{}` is a dict, `itertools.count()` an id
source, `redis.Redis(...)` a client of an external store (the cure, never a
finding), `logging.getLogger()` a logger. `vkind` strings name these kinds.
"""

from __future__ import annotations

import ast

from stateline.lint.libcaches import PER_PROCESS

CONTAINERS = frozenset({
    "list", "dict", "set", "deque", "counter", "defaultdict", "ordereddict", "container",
    "ttlcache", "lrucache",
})
# Kinds whose writes are never accidental state: they are immutable, external
# stores, per-context values, or process plumbing that is meant to be local.
INERT = frozenset({
    "immutable", "external", "logger", "metric", "contextvar", "lock", "regex", "app",
    "limiter", "function", "class", "module", "localcache", "flaskcache", "semaphore",
    "memcache",
})

_LIST = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"})
_DICT = frozenset({"update", "setdefault", "pop", "popitem", "clear", "move_to_end"})
_SET = frozenset({"add", "discard", "remove", "pop", "clear", "update", "difference_update",
                  "intersection_update", "symmetric_difference_update"})
_DEQUE = _LIST | frozenset({"appendleft", "extendleft", "popleft", "rotate"})
_COUNTER = _DICT | frozenset({"subtract"})
MUTATORS: dict[str, frozenset[str]] = {
    "list": _LIST,
    "dict": _DICT,
    "defaultdict": _DICT,
    "ordereddict": _DICT,
    "set": _SET,
    "deque": _DEQUE,
    "counter": _COUNTER,
    "ttlcache": _DICT,
    "lrucache": _DICT,  # a size-bounded cache object (cachetools.LRUCache, pylru, ...)
}
GENERAL_MUTATORS = frozenset().union(*MUTATORS.values())
MUTATORS["container"] = GENERAL_MUTATORS
MUTATORS["unknown"] = GENERAL_MUTATORS
REMOVERS = frozenset({"remove", "discard", "pop"})

# Fully qualified constructor → vkind. Builtins are written as `builtins.<name>`.
CONSTRUCTORS: dict[str, str] = {
    "builtins.dict": "dict", "builtins.list": "list", "builtins.set": "set",
    "builtins.bytearray": "list", "builtins.iter": "iter",
    "builtins.tuple": "immutable", "builtins.frozenset": "immutable", "builtins.str": "immutable",
    "builtins.int": "immutable", "builtins.float": "immutable", "builtins.object": "immutable",
    "builtins.bytes": "immutable", "builtins.range": "immutable", "builtins.property": "immutable",
    "builtins.type": "class", "builtins.len": "immutable", "builtins.sorted": "list",
    "collections.deque": "deque", "collections.Counter": "counter",
    "collections.defaultdict": "defaultdict", "collections.OrderedDict": "ordereddict",
    "collections.ChainMap": "container", "collections.namedtuple": "class",
    "typing.NamedTuple": "class", "typing.TypeVar": "immutable", "typing.NewType": "class",
    "weakref.WeakValueDictionary": "container", "weakref.WeakKeyDictionary": "container",
    "weakref.WeakSet": "container",
    "cachetools.TTLCache": "ttlcache", "cachetools.LRUCache": "lrucache",
    "cachetools.LFUCache": "lrucache", "cachetools.Cache": "container",
    "cachetools.TLRUCache": "ttlcache", "cachetools.FIFOCache": "lrucache",
    "cachetools.RRCache": "lrucache", "cachetools.MRUCache": "lrucache",
    "expiringdict.ExpiringDict": "ttlcache", "cacheout.Cache": "container",
    "cacheout.LRUCache": "lrucache", "pylru.lrucache": "lrucache", "lru.LRU": "lrucache",
    "boltons.cacheutils.LRU": "lrucache", "boltons.cacheutils.LRI": "lrucache",
    "itertools.count": "count", "itertools.cycle": "iter", "itertools.chain": "iter",
    "random.Random": "random", "random.SystemRandom": "immutable",
    "numpy.random.default_rng": "random", "numpy.random.RandomState": "random",
    "threading.Lock": "lock", "threading.RLock": "lock", "threading.Semaphore": "semaphore",
    "threading.BoundedSemaphore": "semaphore", "threading.Condition": "semaphore",
    "threading.Event": "semaphore", "threading.local": "contextvar",
    "asyncio.Lock": "lock", "asyncio.Semaphore": "semaphore",
    "asyncio.BoundedSemaphore": "semaphore", "asyncio.Condition": "semaphore",
    "asyncio.Event": "semaphore", "multiprocessing.Lock": "lock",
    "anyio.Lock": "lock", "anyio.Semaphore": "semaphore", "anyio.CapacityLimiter": "semaphore",

    "contextvars.ContextVar": "contextvar",
    "re.compile": "regex", "types.MappingProxyType": "immutable",
    "logging.getLogger": "logger", "structlog.get_logger": "logger",
    "structlog.getLogger": "logger", "loguru.logger": "logger",
    "fastapi.FastAPI": "app", "fastapi.APIRouter": "app", "starlette.applications.Starlette": "app",
    "starlette.routing.Router": "app", "flask.Flask": "app", "flask.Blueprint": "app",
    "quart.Quart": "app", "aiohttp.web.Application": "app", "aiohttp.web.RouteTableDef": "app",
    "sanic.Sanic": "app", "litestar.Litestar": "app",
    # event servers and callback apps: their decorated handlers run per client event
    "flask_socketio.SocketIO": "socketio", "socketio.Server": "socketio",
    "socketio.AsyncServer": "socketio", "dash.Dash": "dash", "dash.dash.Dash": "dash",
    "flask_caching.Cache": "flaskcache", "flask_cache.Cache": "flaskcache",
    "slowapi.Limiter": "limiter", "flask_limiter.Limiter": "limiter",
    "flask_limiter.extension.Limiter": "limiter",
}
_METRIC_MODULES = ("prometheus_client", "opentelemetry", "statsd", "datadog")

# Library objects that keep state inside the process and change it through their
# own methods: constructor → the methods that write. vkind "lib:<constructor>".
_QUEUE = frozenset({"put", "put_nowait"})
_GRAPH = frozenset({"add_node", "add_edge", "add_nodes_from", "add_edges_from", "remove_node",
                    "remove_edge", "update", "clear"})
_SCHEDULER = frozenset({"add_job", "remove_job", "modify_job", "reschedule_job",
                        "scheduled_job", "pause_job", "resume_job", "remove_all_jobs"})
LIB_MUTATORS: dict[str, frozenset[str]] = {
    "queue.Queue": _QUEUE, "queue.SimpleQueue": _QUEUE, "queue.LifoQueue": _QUEUE,
    "queue.PriorityQueue": _QUEUE, "asyncio.Queue": _QUEUE, "asyncio.PriorityQueue": _QUEUE,
    "asyncio.LifoQueue": _QUEUE, "multiprocessing.Queue": _QUEUE,
    "networkx.Graph": _GRAPH, "networkx.DiGraph": _GRAPH, "networkx.MultiGraph": _GRAPH,
    "networkx.MultiDiGraph": _GRAPH,
    "apscheduler.schedulers.background.BackgroundScheduler": _SCHEDULER,
    "apscheduler.schedulers.asyncio.AsyncIOScheduler": _SCHEDULER,
    "apscheduler.schedulers.blocking.BlockingScheduler": _SCHEDULER,
    "sched.scheduler": frozenset({"enter", "enterabs", "cancel"}),
    "array.array": _LIST,
    "heapq": frozenset(),
}
CONSTRUCTORS.update({name: f"lib:{name}" for name in LIB_MUTATORS})
# In-process cache objects of libraries (cachelib, aiocache, diskcache, ...): libcaches.py
CONSTRUCTORS.update({name: "memcache" for name, words in PER_PROCESS.items() if words})
CONSTRUCTORS.update({name: "external" for name, words in PER_PROCESS.items() if not words})


# Bounded caches whose entries expire within this many seconds are deliberate
# short-lived per-process caches (SL119), not authoritative state.
SHORT_TTL_S = 86_400


def bounded_ttl(call: ast.Call) -> bool:
    """`TTLCache(maxsize=100, ttl=60)`, `ExpiringDict(max_len=.., max_age_seconds=..)`,
    `ttl_cache(maxsize=.., ttl=..)`: a bound and an expiry no longer than a day.
    A TTL that is not a literal counts as short; a missing bound does not."""
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    pos = list(call.args)
    bound = kw.get("maxsize") or kw.get("max_len") or kw.get("max_size") or (
        pos[0] if pos else None)
    ttl = kw.get("ttl") or kw.get("max_age_seconds") or kw.get("max_age") or (
        pos[1] if len(pos) > 1 else None)
    if bound is None or ttl is None:
        return False
    if isinstance(bound, ast.Constant) and bound.value is None:
        return False
    if isinstance(ttl, ast.Constant):
        return isinstance(ttl.value, int | float) and 0 < ttl.value <= SHORT_TTL_S
    if isinstance(ttl, ast.BinOp) and all(isinstance(x, ast.Constant) for x in (ttl.left,
                                                                               ttl.right)):
        try:
            value = eval(compile(ast.Expression(ttl), "<ttl>", "eval"), {"__builtins__": {}})
        except Exception:  # a literal expression that does not evaluate: unknown
            return True
        return isinstance(value, int | float) and 0 < value <= SHORT_TTL_S
    return True


def kind_of_call(dotted: str) -> str:
    """vkind of the value returned by calling `dotted` (an external name)."""
    if dotted in CONSTRUCTORS:
        return CONSTRUCTORS[dotted]
    head = dotted.split(".", 1)[0]
    if head in _METRIC_MODULES:
        return "metric"
    if head == "builtins":
        return "unknown"
    # Redis, SQL engines, HTTP clients, boto3, settings objects...: an external
    # object whose methods we cannot see. Its writes are the cure, not the bug.
    return "external"


def literal_kind(node: ast.expr) -> str | None:
    """vkind of a literal expression, or None when it is not a literal."""
    if isinstance(node, ast.Dict | ast.DictComp):
        return "dict"
    if isinstance(node, ast.List | ast.ListComp):
        return "list"
    if isinstance(node, ast.Set | ast.SetComp):
        return "set"
    if isinstance(node, ast.GeneratorExp):
        return "iter"
    if isinstance(node, ast.Constant):
        return "none" if node.value is None else "immutable"
    if isinstance(node, ast.Tuple | ast.JoinedStr | ast.Lambda | ast.BinOp | ast.UnaryOp
                  | ast.Compare | ast.BoolOp):
        return "immutable"
    return None


def mutates(vkind: str, method: str) -> bool:
    """Whether calling `method` on a value of `vkind` changes it."""
    if vkind.startswith("instance:"):
        return False  # decided by the method's own summary
    if vkind.startswith("lib:"):
        return method in LIB_MUTATORS.get(vkind[4:], frozenset())
    return method in MUTATORS.get(vkind, frozenset())


def is_stateful(vkind: str) -> bool:
    return vkind not in INERT
