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

:class:`IndexedRouter` is Starlette's router trying, for each request, only the
routes whose literal start fits the path's first two segments, in their
declared order: the same first match, found without running every earlier
route's regex. Why: in a py-spy profile of ``GET /api/counter`` route matching
was about a fifth of the request's Python time, because the counter's routes
come after two dozen others; the calculator's come first.

:class:`PathRoute` calls an ``async def`` endpoint itself (:func:`direct_endpoint`)
instead of through ``Route.handle`` → ``request_response``'s two closures →
``wrap_app_handling_exceptions``: four coroutine frames and a ``send`` wrapper
that every await of the handler resumes through. It catches what the endpoint
raises with the same handler lookup as Starlette's wrapper; the response itself
is sent outside that ``try``, so an error while sending reaches the front layer's
identical wrapper (``front.py``), which knows whether the response started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette._utils import get_route_path, is_async_callable
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from stateline.app.front import call_handler, find_handler

Endpoint = Callable[[Request], Awaitable[Response]]


def direct_endpoint(route: Route) -> Endpoint | None:
    """The endpoint :class:`PathRoute` may call itself, or ``None`` to go through the route.

    Only an ``async def`` endpoint whose ASGI app is Starlette's plain
    ``request_response`` wrapper (no route middleware, not an ASGI class).
    """
    if route.app.__qualname__ != "request_response.<locals>.app":
        return None
    endpoint = route.endpoint
    return endpoint if is_async_callable(endpoint) else None  # type: ignore[return-value]


async def call_endpoint(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    """``request_response`` in one frame: the endpoint's errors go to the app's handlers."""
    request = Request(scope, receive, send)
    try:
        response = await endpoint(request)
    except Exception as exc:
        handler = find_handler(scope.get("starlette.exception_handlers", ({}, {})), exc)
        if handler is None:
            raise
        # Nothing was sent yet: an endpoint returns its response, it does not send it.
        handled = await call_handler(handler, request, exc)
        if handled is None:
            return
        response = handled
    await response(scope, receive, send)


class PathRoute(BaseRoute):
    """Every method of one path, each served by the plain route that declared it."""

    def __init__(self, routes: Sequence[Route], static_paths: frozenset[str]) -> None:
        self.routes = list(routes)
        self.path = self.routes[0].path
        self.by_method = {m: r for r in reversed(self.routes) for m in (r.methods or ())}
        self.allow = ", ".join(sorted(self.by_method))
        self.direct = {m: e for m, r in self.by_method.items()
                       if (e := direct_endpoint(r)) is not None}
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
        endpoint = self.direct.get(scope["method"])
        if endpoint is None:
            await route.handle(scope, receive, send)
        else:
            await call_endpoint(endpoint, scope, receive, send)

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


def route_key(route: BaseRoute) -> str | None:
    """``/a/b``: the first two path segments every path this route matches starts with.

    ``None`` when the route's literal start holds fewer than two whole segments
    (``/api/{x}``, ``/api/v{n}``, ``/api``), or it is not a plain or merged HTTP
    route: such routes are tried for every path.
    """
    if not isinstance(route, Route | PathRoute):
        return None
    path = route.path
    literal, brace, _ = path.partition("{")
    parts = literal.split("/")[1:]
    if brace:
        parts = parts[:-1]  # the piece before "{" is not a whole segment
    return f"/{parts[0]}/{parts[1]}" if len(parts) >= 2 else None


def path_key(path: str) -> str | None:
    """The first two segments of a request path, as :func:`route_key` spells them."""
    parts = path.split("/", 3)
    return f"/{parts[1]}/{parts[2]}" if len(parts) >= 3 else None


class IndexedRouter(Router):
    """Starlette's :class:`Router`, trying only the routes that can match (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._indexed = -1  # len(self.routes) when the index was built
        self._always: list[BaseRoute] = []
        self._by_key: dict[str, list[BaseRoute]] = {}

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes that may match ``path``, in declared order."""
        if self._indexed != len(self.routes):  # routes added since: index again
            keyed = [(route_key(r), r) for r in self.routes]
            self._always = [r for k, r in keyed if k is None]
            self._by_key = {key: [r for k, r in keyed if k is None or k == key]
                            for key in {k for k, _ in keyed if k is not None}}
            self._indexed = len(self.routes)
        key = path_key(path)
        return self._by_key.get(key, self._always) if key is not None else self._always

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.redirect_slashes:
            await super().app(scope, receive, send)  # lifespan; slash redirects: as Starlette
            return
        if "router" not in scope:
            scope["router"] = self
        partial: BaseRoute | None = None
        partial_scope: Scope = {}
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None:  # the path fits, the method does not: its 405
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await self.default(scope, receive, send)
