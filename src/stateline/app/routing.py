"""One route per path, so a 405 names every method the path has.

Services declare plain Starlette routes, one per (path, method):
``Route("/api/users", create_user, methods=["POST"])`` and
``Route("/api/users", list_users, methods=["GET"])``. Starlette's router tries
them in turn and, when the path fits but the method does not, answers 405 from
the *first* such route alone, so ``OPTIONS /api/users`` got ``Allow: POST``.
:func:`merge_routes` folds the routes of one path into a :class:`PathRoute`
whose 405 lists them all (``HEAD`` comes with ``GET``), sorted.

It also keeps a parameterised path from swallowing a static one: the router
takes the first *full* match, so ``GET /api/images/resize`` (a POST-only path)
was answered by ``GET /api/images/{id}`` as "no image with id resize". A
parameterised :class:`PathRoute` steps aside for any path that a static route
declares, and that route's 405 answers.

The services keep plain ``Route(...)`` calls on purpose: ``stateline lint``
finds request handlers through them.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send


class PathRoute(BaseRoute):
    """Every method of one path, each served by the plain route that declared it."""

    def __init__(self, routes: Sequence[Route], static_paths: frozenset[str]) -> None:
        self.routes = list(routes)
        self.path = self.routes[0].path
        self.by_method = {m: r for r in reversed(self.routes) for m in (r.methods or ())}
        self.allow = ", ".join(sorted(self.by_method))
        # Only a parameterised path can shadow a static one.
        self.steps_aside = frozenset() if self.path in static_paths else static_paths

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = self.routes[0].matches(scope)  # the path part: same for all
        if match is Match.NONE or scope.get("path") in self.steps_aside:
            return Match.NONE, {}
        route = self.by_method.get(scope["method"])
        if route is None:
            return Match.PARTIAL, child_scope
        return Match.FULL, {**child_scope, "endpoint": route.endpoint}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.by_method.get(scope["method"])
        if route is None:
            raise HTTPException(status_code=405, headers={"Allow": self.allow})
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: str) -> URLPath:
        return self.routes[0].url_path_for(name, **path_params)


def merge_routes(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """The same routes with those of one path folded into one :class:`PathRoute`.

    Order is kept (a path's place is that of its first route); anything that is
    not a plain HTTP ``Route`` passes through untouched.
    """
    static = frozenset(r.path for r in routes if isinstance(r, Route) and not r.param_convertors)
    groups: dict[str, list[Route]] = {}
    order: list[str | BaseRoute] = []  # a path (its group goes there) or a route kept as is
    for route in routes:
        if isinstance(route, Route) and route.methods is not None:
            if route.path not in groups:
                groups[route.path] = []
                order.append(route.path)
            groups[route.path].append(route)
        else:
            order.append(route)
    return [PathRoute(groups[item], static) if isinstance(item, str) else item for item in order]
