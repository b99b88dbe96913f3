from fastapi import FastAPI, UploadFile, WebSocket
from fastapi.staticfiles import StaticFiles

MEDIA_DIR = "./media/"
app = FastAPI()
app.mount("/media", StaticFiles(directory=MEDIA_DIR), name="media")
VIEWERS: dict[str, WebSocket] = {}
_photo_counter = 0
hits = 0


@app.post("/photos")
async def upload(file: UploadFile) -> dict:
    global _photo_counter
    _photo_counter += 1  # expect: SL114
    photo_id = _photo_counter
    with open(f"media/{photo_id}.jpg", "wb") as out:  # expect: SL111
        out.write(await file.read())
    return {"id": photo_id}


@app.get("/hits")
async def count_hit() -> dict:
    global hits
    hits += 1  # expect: SL101
    return {"hits": hits}


@app.websocket("/viewers/{user}")
async def viewer(websocket: WebSocket, user: str) -> None:
    await websocket.accept()
    VIEWERS[user] = websocket  # expect: SL112
    try:
        async for _ in websocket.iter_text():
            pass
    finally:
        del VIEWERS[user]  # trap: removal is part of the registry finding
