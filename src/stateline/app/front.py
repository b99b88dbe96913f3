"""One pure ASGI layer in front of the router: the 500, the instance header, the handlers.

Starlette's stack for our app was ``ServerErrorMiddleware`` → ``InstanceHeader``
→ ``ExceptionMiddleware`` → its ``wrapped_app`` → router: four coroutine frames
and two ``send`` wrappers that every request's coroutine chain resumes through
each time a handler's await returns (py-spy, round 2: the chain's await lines
were about a quarter of a Redis read's CPU). :class:`Front` does the work of all
four in one frame and one ``send`` wrapper:

- it sets ``scope["starlette.exception_handlers"]`` to the maps
  ``ExceptionMiddleware`` built (so the same handlers, its defaults included,
  are found by the routes' own wrapper);
- its ``send`` adds ``x-instance-id`` to the response start and notes that the
  response has started;
- it catches what escapes the router exactly as Starlette's
  ``wrap_app_handling_exceptions`` does: a status handler for an
  ``HTTPException``, else the handler of the nearest class in the exception's
  MRO; a handled exception after the response started → ``RuntimeError``;
- what is still unhandled (or raised by a handler) gets what
  ``ServerErrorMiddleware`` gives it, with that middleware's own handler,
  debug page and default response: the app's JSON 500 if no response has
  started, sent past the instance header as before, and the exception
  re-raised so the server logs it.

Anything that is not HTTP (the lifespan) goes through Starlette's stack
untouched, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette._exception_handler import _lookup_exception_handler
from starlette._utils import is_async_callable
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Handlers = tuple[dict[Any, Callable[..., Any]], dict[int, Callable[..., Any]]]


def find_handler(handlers: Handlers, exc: Exception) -> Callable[..., Any] | None:
    """The app's handler for ``exc`` (by status for an HTTPException, else by class), picked
    as Starlette's ExceptionMiddleware picks it; None when the app has none."""
    exception_handlers, status_handlers = handlers
    handler = status_handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
    return handler if handler is not None else _lookup_exception_handler(exception_handlers, exc)


async def call_handler(handler: Callable[..., Any], request: Request, exc: Exception) -> Any:
    """Run a handler found by :func:`find_handler`; its response (or None)."""
    if is_async_callable(handler):
        response = await handler(request, exc)
    else:
        response = await run_in_threadpool(handler, request, exc)
    exc.__traceback__ = None  # as Starlette: a reused exception must not grow tracebacks
    return response


async def server_error(errors: ServerErrorMiddleware, scope: Scope, exc: Exception) -> Any:
    """The response ``ServerErrorMiddleware`` gives an unhandled ``exc``, made as it makes it."""
    request = Request(scope)
    if errors.debug:
        return await run_in_threadpool(errors.debug_response, request, exc)
    if errors.handler is None:
        return errors.error_response(request, exc)
    if is_async_callable(errors.handler):
        return await errors.handler(request, exc)
    return await run_in_threadpool(errors.handler, request, exc)


class Front:
    """``ServerErrorMiddleware``, ``InstanceHeader`` and ``ExceptionMiddleware`` in one layer."""

    def __init__(self, errors: ServerErrorMiddleware, instance_id: str) -> None:
        exceptions = errors.app
        assert isinstance(exceptions, ExceptionMiddleware)
        self.errors = errors  # serves non-HTTP scopes, and owns the 500's handler
        self.app: ASGIApp = exceptions.app
        self.handlers = (exceptions._exception_handlers, exceptions._status_handlers)
        self.header = (b"x-instance-id", instance_id.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.errors(scope, receive, send)
            return
        scope["starlette.exception_handlers"] = self.handlers
        header = self.header
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            try:
                await self.app(scope, receive, sender)
            except Exception as exc:
                handler = find_handler(self.handlers, exc)
                if handler is None:
                    raise
                if started:
                    raise RuntimeError(
                        "Caught handled exception, but response already started.") from exc
                response = await call_handler(handler, Request(scope, receive, sender), exc)
                if response is not None:
                    await response(scope, receive, sender)
        except Exception as exc:  # ServerErrorMiddleware's part
            response = await server_error(self.errors, scope, exc)
            if not started:
                await response(scope, receive, send)
            raise exc


class FrontedStarlette(Starlette):
    """Starlette whose stack is :class:`Front` → router."""

    def __init__(self, *args: object, instance_id: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.instance_id = instance_id

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        # Only the shape this app has is folded; any other (user middleware, a body
        # limit) fails here, at the first request, instead of being silently dropped.
        if not (isinstance(stack, ServerErrorMiddleware)
                and isinstance(stack.app, ExceptionMiddleware)):
            raise RuntimeError(f"unexpected middleware stack {stack!r}")
        return Front(stack, self.instance_id)
