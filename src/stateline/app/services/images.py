"""Image resizer: stateless and CPU-bound, with originals in the blob store.

- ``POST /api/images/resize?width=&height=[&format=]`` with the image as the
  body → the resized image;
- ``POST /api/images`` with the image as the body → 201 ``{"id", ...}``: the
  original goes to the blob store (content-addressed), once it is known to
  decode whole (a truncated file is 415 now, not on a later resize);
- ``GET /api/images/{id}`` → the stored original;
- ``POST /api/images/resize?source=ID&width=&height=`` resizes a stored
  original instead of a body.

The last two are the stateless answer to "upload, then resize": keeping the
upload on the receiving instance's disk would break as soon as the gateway
sends the next request elsewhere. The blob store is whatever
``STATELINE_BLOB_URL`` names (S3, or a folder shared by one machine's instances).

Everything is bounded before work starts: bodies over 20 MiB get 413 (from
Content-Length, and again while streaming), sizes outside 1..4096 get 400, and
an image that *declares* more than ``STATELINE_IMAGE_MAX_PIXELS`` (default 25
megapixels, all frames together) gets 413 ``image_too_large`` from its header.
Decoding runs in the instance's decoder processes (``workers.py``): a few at
once, 503 ``busy`` with ``Retry-After`` past the queue, and a decode whose
client hung up is killed rather than finished for nobody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app import imaging
from stateline.app.bodies import read_body
from stateline.app.context import context, stores
from stateline.app.errors import ApiError
from stateline.app.idempotency_http import idempotent
from stateline.app.imaging import FORMATS, MAX_SIDE
from stateline.app.responses import json_response
from stateline.app.spec import Body, Operation, Param, Reply, api, json_object
from stateline.app.validate import int_schema, query_int, query_params
from stateline.stores.blobs import is_blob_id, put_content

T = TypeVar("T")
log = logging.getLogger("stateline.app")

MAX_BODY_BYTES = 20 * 1024 * 1024


def _size_params(request: Request) -> tuple[int, int, str | None]:
    params = query_params(request.scope["query_string"])
    for name in ("width", "height"):
        if not params.get(name):
            raise ApiError(400, "missing_parameter", f"query parameter {name!r} is required")
    width = query_int(params.get("width"), "width", 0, 1, MAX_SIDE)
    height = query_int(params.get("height"), "height", 0, 1, MAX_SIDE)
    fmt = params.get("format")
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise ApiError(400, "invalid_format", "format must be one of " + ", ".join(FORMATS))
    return width, height, fmt


async def _source_bytes(request: Request) -> bytes:
    source = query_params(request.scope["query_string"]).get("source")
    if source is None:
        return await read_body(request, MAX_BODY_BYTES)
    if not is_blob_id(source):
        raise ApiError(400, "invalid_parameter", "source must be an image id from POST /api/images")
    data = await stores(request).blobs.get(source)
    if data is None:
        raise ApiError(404, "not_found", f"no image with id {source}")
    return data


async def _client_gone(request: Request) -> None:
    """Return once the client has hung up (the server says ``http.disconnect``)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result, or :class:`ClientDisconnect` (work cancelled) if the client leaves.

    Cancelling a decoder job kills its process, so an abandoned request stops
    costing CPU and memory at once instead of finishing for nobody.
    """
    job = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (job, gone):
            if not task.done():
                task.cancel()
        # Wait for the cancelled job's cleanup (the kill and reaping of its process).
        await asyncio.gather(job, gone, return_exceptions=True)
    if job.cancelled():
        log.info("client gone: stopped the decode for %s %s", request.method, request.url.path)
        raise ClientDisconnect()
    return job.result()


def _max_pixels(request: Request) -> int:
    return context(request).settings.image_max_pixels


def _example_image() -> str:
    """A 2x2 BMP whose bytes are all ASCII, so that it can be an example in a JSON document."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (2, 2), (16, 32, 48)).save(buf, format="BMP", dpi=(1, 1))
    return buf.getvalue().decode("ascii")


_IMAGE_MEDIA = tuple(dict.fromkeys(mime for _, mime in FORMATS.values()))
_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
_IMAGE_BODY = {"application/octet-stream": {**_BINARY, "examples": [_example_image()]}}
_IMAGE_ERRORS = {
    413: "payload_too_large, image_too_large",
    415: "not_an_image",
    503: "busy, decode_timeout, decoder_failed",
}
_BLOB_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


@api(Operation(
    "Resize an image (the body, or a stored original) to exactly width x height",
    tag="images",
    params=(
        Param("width", "query", int_schema(1, MAX_SIDE), required=True),
        Param("height", "query", int_schema(1, MAX_SIDE), required=True),
        Param("format", "query", {"type": "string", "enum": sorted(FORMATS)},
              "output format; default: the input's (PNG for BMP and TIFF)"),
        Param("source", "query", _BLOB_ID, "resize this stored original instead of the body"),
    ),
    body=Body(_IMAGE_BODY, "the image (PNG, JPEG, WebP, GIF, BMP or TIFF)", required=False),
    replies=tuple(Reply(200, "The resized image", _BINARY, media=m) for m in _IMAGE_MEDIA),
    errors={400: "missing_parameter, invalid_parameter, invalid_format", 404: "not_found",
            **_IMAGE_ERRORS},
))
async def resize_endpoint(request: Request) -> Response:
    width, height, fmt = _size_params(request)
    data = await _source_bytes(request)
    cpu = stores(request).cpu
    # Header only: a bomb is 413 without a decoder slot; a small still needs no decoder process.
    run = cpu.run_light if imaging.is_light(data, _max_pixels(request)) else cpu.run
    job = run(imaging.resize, data, width, height, fmt, _max_pixels(request))
    body, mime = await unless_client_leaves(request, job)
    return Response(body, media_type=mime)


@api(Operation(
    "Store an original in the blob store, after checking that it decodes whole",
    tag="images",
    body=Body(_IMAGE_BODY, "the image (PNG, JPEG, WebP, GIF, BMP or TIFF)"),
    replies=(Reply(201, "Stored", json_object({
        "id": _BLOB_ID, "format": {"type": "string"}, "width": {"type": "integer"},
        "height": {"type": "integer"}, "bytes": {"type": "integer"},
    }, ("id", "format", "width", "height", "bytes")), headers={
        "Location": {"schema": {"type": "string"}, "description": "the original's URL"},
    }, links={
        "Download": {"operationId": "images.download", "parameters": {"id": "$response.body#/id"}},
        "ResizeStored": {"operationId": "images.resize_endpoint",
                         "parameters": {"source": "$response.body#/id", "width": 8, "height": 8}},
    }),),
    errors=_IMAGE_ERRORS,
))
@idempotent("POST /api/images", body_limit=MAX_BODY_BYTES)
async def upload(request: Request) -> Response:
    data = await read_body(request, MAX_BODY_BYTES)
    st = stores(request)
    # Header only: a bomb is 413 without a decoder slot; a small still needs no decoder process.
    run = st.cpu.run_light if imaging.is_light(data, _max_pixels(request)) else st.cpu.run
    job = run(imaging.verify, data, _max_pixels(request))
    name, width, height = await unless_client_leaves(request, job)
    blob_id = await put_content(st.blobs, data)
    return json_response(
        {"id": blob_id, "format": name, "width": width, "height": height, "bytes": len(data)},
        status=201, headers={"location": f"/api/images/{blob_id}"},
    )


@api(Operation(
    "Download a stored original (content-addressed: cacheable for ever)", tag="images",
    params=(Param("id", "path", _BLOB_ID),),
    replies=tuple(Reply(200, "The original's bytes", _BINARY, media=m)
                  for m in (*_IMAGE_MEDIA, "application/octet-stream")),
    errors={404: "not_found"},
))
async def download(request: Request) -> Response:
    blob_id = request.path_params["id"]
    data = await stores(request).blobs.get(blob_id)
    if data is None:
        raise ApiError(404, "not_found", f"no image with id {blob_id[:80]}")
    # Stored originals passed verify(): the header names the format (no pixel decoded),
    # whatever the pixel limit is now.
    name, _, _ = imaging.probe(data, 1 << 62)
    mime = FORMATS[name][1] if name in FORMATS else "application/octet-stream"
    # Content-addressed: the bytes behind an id never change.
    immutable = {"cache-control": "public, max-age=31536000, immutable"}
    return Response(data, media_type=mime, headers=immutable)


routes = [
    Route("/api/images/resize", resize_endpoint, methods=["POST"]),
    Route("/api/images", upload, methods=["POST"]),
    Route("/api/images/{id}", download, methods=["GET"]),
]
