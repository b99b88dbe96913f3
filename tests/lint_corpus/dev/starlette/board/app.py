from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

SUBSCRIBERS = set()
MESSAGES: list[str] = []


class Board(HTTPEndpoint):
    pinned: list[str] = []
    title = "board"

    async def get(self, request):
        self.title = request.query_params.get("t", "board")  # trap: per-request instance
        return JSONResponse({"pinned": self.pinned, "messages": MESSAGES})

    async def post(self, request):
        body = await request.json()
        self.pinned.append(body["text"])  # expect: SL105
        MESSAGES.append(body["text"])  # expect: SL102
        return JSONResponse({"ok": True})


class Feed(WebSocketEndpoint):
    encoding = "text"

    async def on_connect(self, websocket):
        await websocket.accept()
        SUBSCRIBERS.add(websocket)  # expect: SL112

    async def on_disconnect(self, websocket, close_code):
        SUBSCRIBERS.discard(websocket)  # trap: part of the registry finding


async def visits(request):
    request.app.state.visits += 1  # expect: SL116
    return JSONResponse({"visits": request.app.state.visits})


class CountingMiddleware:
    def __init__(self, app):
        self.app = app
        self.requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.requests += 1  # expect: SL105
        await self.app(scope, receive, send)


def startup():
    MESSAGES.append("welcome")  # trap: start-up hook


routes = [
    Route("/board", Board),
    Route("/visits", visits),
    Mount("/ws", routes=[WebSocketRoute("/feed", Feed)]),
]
app = Starlette(routes=routes, middleware=[Middleware(CountingMiddleware)],
                on_startup=[startup])
app.state.visits = 0  # trap: set once at import
