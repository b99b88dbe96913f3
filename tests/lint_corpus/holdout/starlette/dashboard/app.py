"""Metrics dashboard: Starlette, with an app factory and a mounted API."""

import contextlib
import itertools
import time
from datetime import date
from functools import cache
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

import widgets
from widgets import WIDGETS as widget_table

EXPORT_DIR = Path("exports")
CLIENTS: set = set()
_backends = itertools.cycle(["http://tsdb-a:8428", "http://tsdb-b:8428"])


class RequestCounter:
    """Pure ASGI middleware: one instance for the life of the process."""

    def __init__(self, app):
        self.app = app  # trap: built once, when the app starts
        self.count = 0  # trap: same

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.count += 1  # expect: SL105
        await self.app(scope, receive, send)


class StampRequest(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.state.started = time.perf_counter()  # trap: request.state
        response = await call_next(request)
        response.headers["X-Elapsed"] = f"{time.perf_counter() - request.state.started:.4f}"  # trap: this response
        return response


@cache  # expect: SL107
def report_title() -> str:
    return f"Operations report for {date.today():%d %B %Y}"


@cache  # trap: pure function of its arguments
def bucket_bounds(step: int, count: int) -> tuple[int, ...]:
    return tuple(step * i for i in range(count))


class Widgets(HTTPEndpoint):
    async def get(self, request):
        return JSONResponse(sorted(widget_table))

    async def post(self, request):
        self.payload = await request.json()  # trap: HTTPEndpoint instances live for one request
        widget_table[self.payload["name"]] = self.payload  # expect: SL104
        widgets.touch(self.payload["name"])
        return JSONResponse(self.payload, status_code=201)


class Live(WebSocketEndpoint):
    encoding = "json"  # trap: endpoint class attribute

    async def on_connect(self, websocket):
        await websocket.accept()
        CLIENTS.add(websocket)  # expect: SL112

    async def on_receive(self, websocket, data):
        for client in list(CLIENTS):
            await client.send_json(data)


async def query(request):
    backend = next(_backends)  # expect: SL103
    async with httpx.AsyncClient(base_url=backend) as client:
        r = await client.get("/api/v1/query", params={"query": request.query_params["q"]})
    return JSONResponse(r.json())


async def export(request):
    name = f"{request.path_params['widget']}.csv"
    rows = await request.body()
    (EXPORT_DIR / name).write_bytes(rows)  # expect: SL111
    return JSONResponse({"download": f"/exports/{name}"}, status_code=201)


async def download(request):
    return FileResponse(EXPORT_DIR / request.path_params["name"])


async def title(request):
    request.session["last_seen"] = time.time()  # trap: signed-cookie session, kept by the client
    return JSONResponse({"title": report_title(), "bounds": bucket_bounds(10, 5)})


async def refresh_title(request):
    report_title.cache_clear()  # expect: SL108
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    served = 0
    errors: list[str] = []

    async def stats(request):
        nonlocal served
        served += 1  # expect: SL101
        return JSONResponse({"served": served, "errors": errors[-5:]})

    async def report_error(request):
        errors.append((await request.body()).decode()[:200])  # expect: SL102
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.http = httpx.AsyncClient()  # trap: client made in lifespan
        app.state.exports = 0  # trap: lifespan, before serving
        yield
        await app.state.http.aclose()

    async def exported(request):
        request.app.state.exports += 1  # expect: SL116
        return await export(request)

    api = [
        Route("/widgets", Widgets),
        Route("/query", query),
        Route("/export/{widget}", exported, methods=["POST"]),
        Route("/errors", report_error, methods=["POST"]),
    ]
    return Starlette(
        routes=[
            Mount("/api", routes=api),
            Route("/stats", stats),
            Route("/title", title),
            Route("/title/refresh", refresh_title, methods=["POST"]),
            Route("/exports/{name}", download),
            WebSocketRoute("/live", Live),
        ],
        middleware=[Middleware(SessionMiddleware, secret_key="s3cret"),
                    Middleware(StampRequest), Middleware(RequestCounter)],
        lifespan=lifespan,
    )


app = create_app()
