"""The FastAPI docs' chat: a connection manager kept in module state."""
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)  # expect: SL112

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)  # trap: reported once, at registration

    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)


manager = ConnectionManager()
ROOMS: dict[str, set] = {}


@app.websocket("/ws/{client_id}")
async def chat(websocket: WebSocket, client_id: int) -> None:
    await manager.connect(websocket)
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"#{client_id}: {data}")
    except WebSocketDisconnect:
        manager.disconnect(websocket)


@app.websocket("/rooms/{room}")
async def room(ws: WebSocket, room: str) -> None:
    await ws.accept()
    ROOMS.setdefault(room, set()).add(ws)  # expect: SL112
    try:
        async for msg in ws.iter_text():
            for peer in ROOMS[room]:
                await peer.send_text(msg)
    finally:
        ROOMS[room].discard(ws)  # trap: removal belongs to the registry finding
