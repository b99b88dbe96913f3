"""Media service: thumbnails kept on local disk, a job queue kept in memory."""

import asyncio
import hashlib
import itertools
import shutil
import tempfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

MEDIA_ROOT = Path("/srv/media")
THUMBS = MEDIA_ROOT / "thumbs"
_job_ids = itertools.count()
JOBS: dict[int, dict] = {}
_checksums: dict[str, str] = {}
_convert_lock = asyncio.Lock()


def checksum(data: bytes, _known={}) -> str:
    digest = hashlib.sha256(data).hexdigest()
    _known[digest] = len(data)  # expect: SL106
    return digest


async def upload(request):
    data = await request.body()
    name = request.path_params["name"]
    (MEDIA_ROOT / name).write_bytes(data)  # expect: SL111
    _checksums[name] = checksum(data)  # expect: SL102
    return JSONResponse({"name": name}, status_code=201)


async def original(request):
    return FileResponse(MEDIA_ROOT / request.path_params["name"])


def _finish(job_id: int) -> None:
    JOBS[job_id]["state"] = "done"  # expect: SL113


async def make_thumbnail(request):
    name = request.path_params["name"]
    job_id = next(_job_ids)  # expect: SL114
    JOBS[job_id] = {"name": name, "state": "running"}  # expect: SL102
    async with _convert_lock:  # expect: SL118
        shutil.copy(MEDIA_ROOT / name, THUMBS / name)  # expect: SL111
    return JSONResponse({"job": job_id}, background=BackgroundTask(_finish, job_id))


async def thumbnail(request):
    return FileResponse(THUMBS / request.path_params["name"])


async def job(request):
    return JSONResponse(JOBS.get(int(request.path_params["id"]), {}))


async def transcode(request):
    data = await request.body()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.wav"
        src.write_bytes(data)  # trap: a scratch file written and read within this request
        out = src.read_bytes()
    return Response(out, media_type="audio/wav")


app = Starlette(routes=[
    Route("/media/{name}", upload, methods=["PUT"]),
    Route("/media/{name}", original),
    Route("/thumbs/{name}", make_thumbnail, methods=["POST"]),
    Route("/thumbs/{name}", thumbnail),
    Route("/jobs/{id:int}", job),
    Route("/transcode", transcode, methods=["POST"]),
])
