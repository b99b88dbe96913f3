"""Routes: the longest path prefix decides the pool.

A prefix matches at a segment boundary (``/api`` matches ``/api`` and
``/api/x`` but not ``/apix``) so that adding a route never silently captures
a neighbour's paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Route:
    """One ``[[routes]]`` entry: a path prefix, its pool, and its rate limit if any.

    A plain class rather than a dataclass: it compiles to a typed extension
    class (routes.pxd), and the data plane reads ``pool`` and ``limiter`` on
    every request.
    """

    __slots__ = ("limit_key", "limiter", "pool", "prefix")

    def __init__(self, prefix: bytes, pool: Any, limiter: Any = None,
                 limit_key: str = "ip") -> None:
        self.prefix = prefix
        self.pool = pool  # stateline.gateway.pool.Pool (kept loose so this module stays pure)
        self.limiter = limiter  # RateLimiter or None
        self.limit_key = limit_key

    def __repr__(self) -> str:
        return f"Route({self.prefix!r}, pool={getattr(self.pool, 'name', self.pool)!r})"


class Router:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)
        #: The one route when it takes every path (the common ``--backend`` form), else None:
        #: lets the hot path skip matching.
        self.catch_all = self.routes[0] if len(self.routes) == 1 and self.routes[0].prefix == b"/" \
            else None

    def match(self, path: bytes) -> Route | None:
        if self.catch_all is not None:
            return self.catch_all
        for r in self.routes:
            p = r.prefix
            if path.startswith(p) and (
                len(path) == len(p) or p.endswith(b"/") or path[len(p)] == 47  # "/"
            ):
                return r
        return None
