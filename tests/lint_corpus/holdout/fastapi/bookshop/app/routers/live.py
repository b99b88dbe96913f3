"""Live order feed over WebSockets."""

from contextvars import ContextVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

router = APIRouter()

_listeners: list[WebSocket] = []
viewer: ContextVar[str | None] = ContextVar("viewer", default=None)


async def broadcast(message: dict) -> None:
    for ws in list(_listeners):
        await ws.send_json(message)


@router.websocket("/ws/orders")
async def order_feed(websocket: WebSocket):
    await websocket.accept()
    viewer.set(websocket.query_params.get("name"))  # trap: ContextVar.set is per task
    _listeners.append(websocket)  # expect: SL112
    try:
        while True:
            text = await websocket.receive_text()
            await broadcast({"from": viewer.get(), "text": text})
    except WebSocketDisconnect:
        return
