import os
from pathlib import Path

from fastapi import FastAPI, UploadFile
from fastapi.responses import FileResponse

UPLOAD_DIR = Path("/var/app/uploads")
app = FastAPI()


class BlobStore:
    def put(self, key: str, data: bytes) -> None:
        self.last = key


blobs = BlobStore()


@app.post("/avatars/{user}")
async def upload_avatar(user: str, file: UploadFile) -> dict:
    data = await file.read()
    (UPLOAD_DIR / f"{user}.png").write_bytes(data)  # expect: SL111
    return {"ok": True}


@app.get("/avatars/{user}")
async def get_avatar(user: str) -> FileResponse:
    return FileResponse(UPLOAD_DIR / f"{user}.png")


@app.post("/thumbs/{user}")
async def thumb(user: str, file: UploadFile) -> dict:
    tmp = f"/tmp/{user}.scratch"
    with open(tmp, "wb") as fh:  # trap: scratch file read back in the same handler
        fh.write(await file.read())
    with open(tmp, "rb") as fh:
        size = len(fh.read())
    os.remove(tmp)
    return {"size": size}


@app.post("/docs/{key}")
async def upload_doc(key: str, file: UploadFile) -> dict:
    local = BlobStore()
    local.put(key, await file.read())  # trap: a per-request object
    return {"key": key}
