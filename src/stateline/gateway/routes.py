"""Routes: the longest path prefix decides the pool.

A prefix matches at a segment boundary (``/api`` matches ``/api`` and
``/api/x`` but not ``/apix``) so that adding a route never silently captures
a neighbour's paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Route:
    prefix: bytes
    pool: Any  # stateline.gateway.pool.Pool (kept loose so this module stays pure)
    limiter: Any = None  # RateLimiter or None
    limit_key: str = "ip"


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
