"""A page-view counter, the seed's own example of accidental state."""
import logging
import re
from functools import lru_cache

import redis.asyncio as aioredis
from fastapi import FastAPI
from prometheus_client import Counter
from pydantic_settings import BaseSettings

log = logging.getLogger(__name__)  # trap: loggers are process plumbing
REQUESTS = Counter("requests_total", "Requests served")  # trap: Prometheus metric
SLUG = re.compile(r"^[a-z0-9-]+$")  # trap: compiled regex
ALLOWED = ("home", "about", "pricing")  # trap: tuple constant
ALLOWED_LIST = list(ALLOWED)
PAGES: dict[str, str] = {}  # trap: filled at start-up only
page_views = 0
rdb = aioredis.from_url("redis://localhost:6379/0")  # trap: external store client


class Settings(BaseSettings):
    redis_url: str = "redis://localhost"


@lru_cache  # trap: get_settings reads only the environment
def get_settings() -> Settings:
    return Settings()


app = FastAPI()


@app.on_event("startup")
async def load_pages() -> None:
    for name in ALLOWED:
        PAGES[name] = name.title()  # trap: start-up hook may build tables


@app.get("/pages/{name}")
async def show(name: str) -> dict:
    global page_views
    page_views += 1  # expect: SL101
    REQUESTS.inc()  # trap: metrics are fine
    log.info("page %s", name)
    settings = get_settings()
    views = await rdb.incr(f"views:{name}")  # trap: the cure, a Redis counter
    return {"page": PAGES.get(name), "views": views, "local": page_views,
            "redis": settings.redis_url}


@app.get("/stats")
async def stats() -> dict:
    local_copy = dict(PAGES)  # trap: a local copy of a global
    local_copy["extra"] = "x"  # trap: writes the copy only
    recent = ALLOWED_LIST[:]  # trap: a slice is a copy
    recent.append("contact")  # trap: writes the copy only
    return {"views": page_views, "pages": local_copy, "recent": recent}


def reset_for_tests() -> None:
    global page_views
    page_views = 0  # trap: CLI/test helper no route reaches


if __name__ == "__main__":
    page_views = 100  # trap: only under __main__
    PAGES["debug"] = "Debug"  # trap: only under __main__
