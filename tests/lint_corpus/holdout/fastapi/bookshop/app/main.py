"""Bookshop API: a FastAPI app assembled from routers."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import Counter, Histogram, make_asgi_app
from redis.asyncio import Redis

from .routers import admin, books, cart, live, orders
from .settings import get_settings

logger = logging.getLogger("bookshop")  # trap: a logger is process plumbing, not request state
REQUESTS = Counter("bookshop_requests_total", "Requests served", ["path"])  # trap: metrics are per process by design
LATENCY = Histogram("bookshop_latency_seconds", "Latency")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    app.state.redis = Redis.from_url(settings.redis_url)  # trap: store client made in lifespan
    app.state.ready = True  # trap: start-up phase, before any request
    yield
    await app.state.redis.aclose()


app = FastAPI(title="bookshop", lifespan=lifespan)
app.include_router(books.router, prefix="/books")  # trap: route registration at import
app.include_router(cart.router, prefix="/cart")
app.include_router(orders.router, prefix="/orders")
app.include_router(admin.router, prefix="/admin")
app.include_router(live.router)
app.mount("/metrics", make_asgi_app())


@app.middleware("http")
async def observe(request: Request, call_next):
    REQUESTS.labels(path=request.url.path).inc()  # trap: Prometheus counter increment
    request.state.request_id = request.headers.get("x-request-id", "-")  # trap: request.state lives for one request
    with LATENCY.time():  # trap: metric timer
        response = await call_next(request)
    logger.info("served %s", request.url.path)  # trap: logging call
    return response
