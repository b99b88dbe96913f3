from fastapi import FastAPI, Header

from . import config
from .config import ACTIVE
from .registry import get_registry

app = FastAPI()
_plans = (p for p in ["free", "pro", "team"])


@app.post("/tenants/{name}")
def create(name: str, x_tenant: str = Header("")) -> dict:
    config.CURRENT_TENANT = x_tenant  # expect: SL104
    get_registry().add(name, {"owner": x_tenant})
    return {"tenants": get_registry().names()}


@app.post("/features/{flag}")
def toggle(flag: str) -> dict:
    ACTIVE[flag] = True  # expect: SL104
    return {"features": config.FEATURES}


@app.get("/plans/next")
def next_plan() -> dict:
    return {"plan": next(_plans, None)}  # expect: SL103
