"""The image resizer over HTTP: sizes, formats, limits, and originals in the blob store."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from stateline.app.services.images import MAX_BODY_BYTES
from stateline.settings import Settings


@pytest.fixture
def client(redis_url: str, settings_for: Callable[..., Settings],
           run_app: Any) -> Iterator[Any]:
    with run_app(settings_for(redis_url), "app-img") as c:
        yield c


def _image(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, format=fmt)
    return buf.getvalue()


def test_resize_returns_the_image_at_the_asked_size(client: Any) -> None:
    response = client.post("/api/images/resize?width=32&height=20&format=webp", content=_image())
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    out = Image.open(io.BytesIO(response.content))
    assert (out.format, out.size) == ("WEBP", (32, 20))


def test_resize_keeps_jpeg_as_jpeg(client: Any) -> None:
    response = client.post("/api/images/resize?width=8&height=8", content=_image("JPEG"))
    assert response.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("query", [
    "width=0&height=10", "width=10&height=4097", "width=-1&height=10", "width=x&height=10",
    "height=10", "width=10", "width=10&height=10&format=bmp",
])
def test_bad_sizes_and_formats_are_400(client: Any, query: str) -> None:
    response = client.post(f"/api/images/resize?{query}", content=_image())
    assert response.status_code == 400
    assert "error" in response.json()


def test_not_an_image_is_415(client: Any) -> None:
    response = client.post("/api/images/resize?width=10&height=10", content=b"hello world")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "not_an_image"


def test_declared_oversize_body_is_413_before_reading_it(client: Any) -> None:
    response = client.post("/api/images/resize?width=10&height=10", content=b"tiny",
                           headers={"content-length": str(MAX_BODY_BYTES + 1)})
    assert response.status_code == 413


def test_streamed_oversize_body_is_413_while_streaming(client: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        block = b"\0" * (1024 * 1024)
        for _ in range(MAX_BODY_BYTES // len(block) + 2):
            yield block

    response = client.post("/api/images/resize?width=10&height=10", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def _declares(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header is rewritten to declare ``width`` x ``height``: a bomb's shape."""
    png = _image(size=(1, 1))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return png[:8] + struct.pack(">I", 13) + b"IHDR" + ihdr + crc + png[8 + 25:]


def test_decompression_bomb_is_413_from_its_header(client: Any) -> None:
    bomb = _declares(8000, 8000)  # 64 megapixels declared, a few dozen bytes sent
    assert len(bomb) < 200
    response = client.post("/api/images/resize?width=10&height=10", content=bomb)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"


def test_upload_then_resize_by_id_on_any_instance(
    client: Any, redis_url: str, settings_for: Callable[..., Settings], run_app: Any,
) -> None:
    original = _image(size=(40, 40))
    stored = client.post("/api/images", content=original)
    assert stored.status_code == 201
    body = stored.json()
    assert body["format"] == "png" and (body["width"], body["height"]) == (40, 40)
    # A second instance on the same stores (the blob folder) finds the original.
    with run_app(settings_for(redis_url), "app-img-2") as other:
        fetched = other.get(f"/api/images/{body['id']}")
        assert fetched.status_code == 200 and fetched.content == original
        assert fetched.headers["content-type"] == "image/png"
        resized = other.post(f"/api/images/resize?source={body['id']}&width=10&height=5")
    assert resized.status_code == 200
    assert Image.open(io.BytesIO(resized.content)).size == (10, 5)


def test_unknown_or_malformed_image_ids(client: Any) -> None:
    assert client.get("/api/images/" + "0" * 64).status_code == 404
    assert client.get("/api/images/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.post("/api/images/resize?source=nope&width=1&height=1").status_code == 400
    missing = client.post(f"/api/images/resize?source={'a' * 64}&width=1&height=1")
    assert missing.status_code == 404


def test_uploading_a_non_image_is_415_and_stores_nothing(client: Any) -> None:
    assert client.post("/api/images", content=b"text, not pixels").status_code == 415
