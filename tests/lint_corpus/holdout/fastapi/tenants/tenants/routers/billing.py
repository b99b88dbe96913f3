import asyncio

from fastapi import APIRouter, Request

from .. import state

router = APIRouter()
_invoice_totals: dict[str, float] = {}
_pending: list[str] = []


async def _accumulate(tenant: str, amount: float) -> None:
    await asyncio.sleep(0)
    _invoice_totals[tenant] = _invoice_totals.get(tenant, 0.0) + amount  # expect: SL113


@router.post("/{tenant}/charge")
async def charge(tenant: str, amount: float, request: Request):
    asyncio.create_task(_accumulate(tenant, amount))
    request.app.state.last_charge = {"tenant": tenant, "amount": amount}  # expect: SL116
    return {"queued": True}


@router.get("/{tenant}/total")
async def total(tenant: str):
    return {"total": _invoice_totals.get(tenant, 0.0), "seats": state.QUOTAS.get(tenant)}


@router.post("/{tenant}/retry")
async def retry(tenant: str):
    global _pending
    _pending = _pending + [tenant]  # expect: SL101
    return {"pending": len(_pending)}
