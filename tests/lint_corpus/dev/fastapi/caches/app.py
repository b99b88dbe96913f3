import asyncio
import random
import threading
from collections import defaultdict
from functools import lru_cache

import httpx
from fastapi import FastAPI

app = FastAPI()
VISITS = defaultdict(int)
TAGS = defaultdict(list)
_report_lock = threading.Lock()
_jobs_lock = asyncio.Lock()
_client: httpx.AsyncClient | None = None
_recent = None
JOBS: set[str] = set()


@lru_cache(maxsize=256)  # expect: SL107
def exchange_rate(currency: str) -> float:
    return httpx.get(f"https://rates.example/{currency}").json()["rate"]


@lru_cache  # trap: pure function, same output for the same input
def slugify(title: str) -> str:
    return "-".join(title.lower().split())


def similar(word: str, _memo={}) -> list[str]:
    if word not in _memo:
        _memo[word] = [word + "s", word + "es"]  # expect: SL106
    return _memo[word]


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient()  # trap: lazily created client holds no data
    return _client


def recent() -> list:
    global _recent
    if _recent is None:
        _recent = []  # trap: lazy creation itself
    return _recent


@app.get("/convert")
async def convert(amount: float, currency: str) -> dict:
    rate = exchange_rate(currency)
    resp = await client().get("https://audit.example")
    recent().append(currency)  # expect: SL117
    return {"value": amount * rate, "slug": slugify(currency), "audit": resp.status_code}


@app.post("/rates/refresh")
async def refresh() -> dict:
    exchange_rate.cache_clear()  # expect: SL108
    return {"ok": True}


@app.get("/words/{word}")
async def words(word: str) -> dict:
    count = VISITS[word]  # expect: SL103
    TAGS[word].append("seen")  # expect: SL103,SL102
    return {"similar": similar(word), "count": count}


@app.get("/lottery")
async def lottery(seed: int) -> dict:
    random.seed(seed)  # expect: SL115
    rng = random.Random(seed)  # trap: a local generator per request
    return {"n": random.randint(1, 49), "m": rng.randint(1, 49)}


@app.post("/reports/{rid}")
async def build_report(rid: str) -> dict:
    with _report_lock:  # expect: SL118
        done = httpx.get(f"https://reports.example/{rid}").status_code == 200
        if not done:
            httpx.post("https://reports.example/", json={"id": rid})
    async with _jobs_lock:  # expect: SL118
        JOBS.add(rid)  # expect: SL102
    return {"ok": True}


_client_lock = threading.Lock()
_pool = None


def pool() -> httpx.Client:
    global _pool
    with _client_lock:  # trap: double-checked lazy creation of a client
        if _pool is None:
            _pool = httpx.Client()  # trap: lazy creation
    return _pool


@app.get("/ping")
async def ping() -> dict:
    return {"status": pool().get("https://status.example").status_code}
