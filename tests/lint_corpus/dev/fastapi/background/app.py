import asyncio
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI

AUDIT: list[dict] = []
STATS = {"ticks": 0}
COUNTRIES: dict[str, str] = {}


async def refresh_stats() -> None:
    while True:
        STATS["ticks"] += 1  # expect: SL113
        await asyncio.sleep(5)


@asynccontextmanager
async def lifespan(app: FastAPI):
    COUNTRIES.update({"fr": "France", "de": "Germany"})  # trap: lifespan builds tables
    task = asyncio.create_task(refresh_stats())
    yield
    task.cancel()


app = FastAPI(lifespan=lifespan)


def write_audit(user: str, action: str) -> None:
    AUDIT.append({"user": user, "action": action})  # expect: SL113


@app.post("/orders")
async def create_order(user: str, tasks: BackgroundTasks) -> dict:
    tasks.add_task(write_audit, user, "order")
    return {"ok": True}


@app.get("/stats")
async def stats() -> dict:
    return {"ticks": STATS["ticks"], "country": COUNTRIES.get("fr")}
