"""Image resizer: stateless and CPU-bound, with originals in the blob store.

- ``POST /api/images/resize?width=&height=[&format=]`` with the image as the
  body → the resized image;
- ``POST /api/images`` with the image as the body → 201 ``{"id", ...}``: the
  original goes to the blob store (content-addressed);
- ``GET /api/images/{id}`` → the stored original;
- ``POST /api/images/resize?source=ID&width=&height=`` resizes a stored
  original instead of a body.

The last two are the stateless answer to "upload, then resize": keeping the
upload on the receiving instance's disk would break as soon as the gateway
sends the next request elsewhere. The blob store is a folder shared by the
instances on this machine; on a real deployment it is shared storage or S3.

Everything is bounded before work starts: bodies over 20 MiB get 413 (from
Content-Length, and again while streaming), sizes outside 1..4096 get 400,
and an image that *declares* more than 50 megapixels gets 413 from its header,
before a pixel is decoded (a decompression bomb is a small file). Decoding and
resampling run in the bounded CPU pool so one big image does not stall the
event loop.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_body
from stateline.app.context import stores
from stateline.app.errors import ApiError
from stateline.app.idempotency_http import idempotent
from stateline.app.responses import json_response
from stateline.app.validate import query_int
from stateline.stores.blobs import is_blob_id

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_SIDE = 4096
MAX_PIXELS = 50_000_000
#: Output formats: name → (Pillow format, media type).
FORMATS = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "jpg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
    "gif": ("GIF", "image/gif"),
}
#: Formats accepted as input: common raster formats only. Pillow can open more (EPS
#: through Ghostscript, for one), which an upload endpoint has no business running.
INPUT_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_BY_PIL = {pil: (name, mime) for name, (pil, mime) in FORMATS.items() if name != "jpg"}


def _open(data: bytes) -> Image.Image:
    """Open (header only) and check the declared size, without decoding pixels."""
    try:
        # Pillow itself refuses beyond 2x its own limit; our stricter check follows.
        image = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
    except Image.DecompressionBombError:
        raise ApiError(413, "image_too_large",
                       f"image declares more than {MAX_PIXELS} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ApiError(415, "not_an_image", "the body is not an image Pillow can read") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ApiError(413, "image_too_large",
                       f"image declares {width}x{height}, over {MAX_PIXELS} pixels")
    return image


def probe(data: bytes) -> tuple[str, int, int]:
    """``(format name, width, height)`` of an image, from its header alone."""
    image = _open(data)
    name = _BY_PIL.get(image.format or "", (str(image.format).lower(), ""))[0]
    return name, image.width, image.height


def resize(data: bytes, width: int, height: int, fmt: str | None) -> tuple[bytes, str]:
    """The image scaled to exactly ``width`` x ``height``, encoded as ``fmt``."""
    image = _open(data)
    pil_format, mime = FORMATS[fmt or _BY_PIL.get(image.format or "", ("png", ""))[0]]
    try:
        image.draft("RGB", (width, height))  # JPEG: decode at a reduced scale when it can
        out = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ApiError(415, "not_an_image", "the image data is damaged or truncated") from None
    if pil_format == "JPEG" and out.mode not in ("RGB", "L"):
        out = out.convert("RGB")
    elif pil_format in ("PNG", "WEBP") and out.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        out = out.convert("RGBA")
    buf = io.BytesIO()
    out.save(buf, format=pil_format)
    return buf.getvalue(), mime


def _size_params(request: Request) -> tuple[int, int, str | None]:
    params = request.query_params
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
    source = request.query_params.get("source")
    if source is None:
        return await read_body(request, MAX_BODY_BYTES)
    if not is_blob_id(source):
        raise ApiError(400, "invalid_parameter", "source must be an image id from POST /api/images")
    data = await run_in_threadpool(stores(request).blobs.get, source)
    if data is None:
        raise ApiError(404, "not_found", f"no image with id {source}")
    return data


async def resize_endpoint(request: Request) -> Response:
    width, height, fmt = _size_params(request)
    data = await _source_bytes(request)
    body, mime = await stores(request).cpu.run(resize, data, width, height, fmt)
    return Response(body, media_type=mime)


@idempotent("POST /api/images", body_limit=MAX_BODY_BYTES)
async def upload(request: Request) -> Response:
    data = await read_body(request, MAX_BODY_BYTES)
    st = stores(request)
    name, width, height = await st.cpu.run(probe, data)
    blob_id = await run_in_threadpool(st.blobs.put, data)
    return json_response(
        {"id": blob_id, "format": name, "width": width, "height": height, "bytes": len(data)},
        status=201, headers={"location": f"/api/images/{blob_id}"},
    )


async def download(request: Request) -> Response:
    blob_id = request.path_params["id"]
    data = await run_in_threadpool(stores(request).blobs.get, blob_id)
    if data is None:
        raise ApiError(404, "not_found", f"no image with id {blob_id}")
    name, _, _ = probe(data)
    mime = FORMATS[name][1] if name in FORMATS else "application/octet-stream"
    # Content-addressed: the bytes behind an id never change.
    immutable = {"cache-control": "public, max-age=31536000, immutable"}
    return Response(data, media_type=mime, headers=immutable)


routes = [
    Route("/api/images/resize", resize_endpoint, methods=["POST"]),
    Route("/api/images", upload, methods=["POST"]),
    Route("/api/images/{id}", download, methods=["GET"]),
]
