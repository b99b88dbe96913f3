import random
import time

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

from . import audit, helpers, ids, state, usage
from .routers import billing
from .state import TENANTS as tenants

app = FastAPI()
router = APIRouter()
_rng = random.Random()
_plan_cache: dict[str, dict] = {}


class Pagination:
    def __init__(self, limit: int = 20, offset: int = 0) -> None:
        self.limit = min(limit, 100)  # trap: a dependency object made per request
        self.offset = offset


def tenant_from_host(request: Request, _resolved={}) -> dict:
    host = request.headers.get("host", "")
    if host not in _resolved:
        _resolved[host] = tenants.get(host.split(".")[0], {})  # expect: SL106
    return _resolved[host]


def features_for(plan: str, extra: list = []) -> list:
    extra.append(plan)  # expect: SL106
    return sorted(set(extra))


@router.post("/tenants", status_code=201)
def create_tenant(name: str, plan: str = "free"):
    tenant_id = ids.next_tenant_id()
    record = helpers.stamp({"id": tenant_id, "name": name, "plan": plan})
    helpers.register(tenants, tenant_id, record)
    audit.record(tenant_id, "created")
    return record


@router.get("/tenants")
def list_tenants(page: Pagination = Depends(Pagination)):
    items = sorted(tenants.values(), key=lambda t: t["id"])
    return items[page.offset:page.offset + page.limit]


@router.post("/tenants/{tenant_id}/calls")
def use_quota(tenant_id: str, tenant: dict = Depends(tenant_from_host)):
    left = helpers.charge_quota(state.QUOTAS, tenant_id, 1)
    if left < 0:
        raise HTTPException(status_code=429, detail="quota exhausted")
    return {"left": left, "features": features_for(tenant.get("plan", "free"))}


@router.post("/maintenance")
def start_maintenance(minutes: int):
    state.MAINTENANCE_UNTIL = time.time() + 60 * minutes  # expect: SL104,SL101
    return {"until": state.MAINTENANCE_UNTIL}


@router.get("/tenants/{tenant_id}/region")
def pick_region(tenant_id: str):
    _rng.seed(tenant_id)  # expect: SL115
    return {"region": _rng.choice(["eu", "us"]),
            "fallback": helpers.sample_region(("eu", "us"), tenant_id)}


@router.get("/plans/{plan}")
def plan_details(plan: str):
    if plan not in _plan_cache:
        _plan_cache[plan] = {"name": state.PLAN_NAMES.get(helpers.plan_label(plan), plan)}  # expect: SL102
    return _plan_cache[plan]


@router.get("/usage")
def usage_report():
    return {"samples": len(state.USAGE_SAMPLES)}


@app.on_event("startup")
def boot() -> None:
    usage.start_collector()
    tenants["demo"] = {"id": "demo", "name": "Demo", "plan": "free"}  # trap: start-up hook


app.include_router(router)
app.include_router(billing.router, prefix="/billing")
app.add_api_route("/healthz", lambda: {"ok": True})  # trap: route registration
