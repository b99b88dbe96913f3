import itertools
import secrets

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BACKENDS = ["http://10.0.0.1", "http://10.0.0.2"]
TOKENS: dict[str, str] = {}


class PickBackend:
    def __init__(self, app):
        self.app = app
        self._next = itertools.cycle(BACKENDS)
        self._ids = itertools.count(1)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope["backend"] = next(self._next)  # expect: SL103
            scope["trace"] = next(self._ids)  # expect: SL114
        await self.app(scope, receive, send)


async def login(request: Request) -> JSONResponse:
    form = await request.form()
    token = secrets.token_urlsafe(16)
    TOKENS[token] = form["user"]  # expect: SL110
    response = JSONResponse({"ok": True})
    response.set_cookie("auth", token)
    return response


async def whoami(request: Request) -> JSONResponse:
    picks = itertools.cycle(BACKENDS)  # trap: a local iterator per request
    return JSONResponse({"user": TOKENS.get(request.cookies.get("auth", "")),
                         "backend": next(picks)})


app = Starlette(routes=[Route("/login", login, methods=["POST"]), Route("/me", whoami)],
                middleware=[Middleware(PickBackend)])
