"""Uploads decode whole before they are stored, and heavy images are bounded (issue 10, 9-10).

- a truncated PNG, JPEG or GIF was stored (201) and failed only on a later
  resize (415): now the upload is 415 and nothing is stored;
- the decoded pixels of one request are bounded (``image_max_pixels``, 25 MP by
  default), 413 ``image_too_large``, all frames of an animation together;
- a resize whose client has hung up is stopped: its decoder process is killed
  and the instance answers nobody, instead of finishing the work.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from stateline.settings import Settings


def _encoded(fmt: str, size: tuple[int, int] = (200, 150), frames: int = 1) -> bytes:
    # Noise, so that the compressed data is long enough to cut in the middle.
    images = [Image.effect_noise(size, 60 + i).convert("RGB") for i in range(frames)]
    buf = io.BytesIO()
    if frames > 1:
        images[0].save(buf, format=fmt, save_all=True, append_images=images[1:])
    else:
        images[0].save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def settings(redis_url: str, settings_for: Callable[..., Settings]) -> Settings:
    return settings_for(redis_url)


@pytest.fixture
def client(settings: Settings, run_app: Any) -> Iterator[Any]:
    with run_app(settings, "app-bounds") as c:
        yield c


def _stored_blobs(settings: Settings) -> list[Path]:
    root = settings.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_a_truncated_upload_is_415_and_stores_nothing(client: Any, settings: Settings,
                                                      fmt: str) -> None:
    whole = _encoded(fmt, frames=3 if fmt == "GIF" else 1)
    cut = whole[: len(whole) * 2 // 3]
    Image.open(io.BytesIO(cut))  # the header alone still reads: only a full decode can tell
    response = client.post("/api/images", content=cut)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "not_an_image"
    assert _stored_blobs(settings) == []
    assert client.post("/api/images", content=whole).status_code == 201


def test_declared_pixels_over_the_default_25_megapixels_are_413(client: Any) -> None:
    buf = io.BytesIO()
    Image.new("L", (5001, 5000)).save(buf, format="PNG")  # 25.005 MP, about 30 KB
    for path in ("/api/images", "/api/images/resize?width=10&height=10"):
        response = client.post(path, content=buf.getvalue())
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "image_too_large"


def test_the_pixel_bound_is_configurable_and_counts_every_frame(
        settings: Settings, run_app: Any) -> None:
    with run_app(settings.with_(image_max_pixels=100 * 100 * 2), "app-small") as small:
        assert small.post("/api/images", content=_encoded("GIF", (100, 100), 2)).status_code \
            == 201
        three = small.post("/api/images", content=_encoded("GIF", (100, 100), 3))
        assert three.status_code == 413
        assert "frames" in three.json()["error"]["message"]
        big = small.post("/api/images/resize?width=5&height=5",
                         content=_encoded("PNG", (150, 150)))
        assert big.status_code == 413


def test_a_resize_whose_client_left_is_stopped_not_finished(client: Any) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4500, 4500), (9, 99, 199)).save(buf, format="PNG")  # 20 MP, tiny file
    heavy = buf.getvalue()
    headers = [(b"content-type", b"application/octet-stream"),
               (b"content-length", str(len(heavy)).encode())]
    # The whole body arrives, then the client is gone (receive() says http.disconnect).
    sent = client.asgi("POST", "/api/images/resize", headers,
                       [{"type": "http.request", "body": heavy, "more_body": False}],
                       query=b"width=100&height=100")
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400  # the answer to nobody: not the 200 of a finished resize
    assert b"client_disconnected" in b"".join(m.get("body", b"") for m in sent)
    assert client.app.state.ctx.stores.cpu.running == set()  # its decoder was killed
