"""The image service on each blob backend, and on a blob store that fails: 503, never 500.

Nothing above the store changes with the backend: the same requests run on S3
(the session's real SeaweedFS) and on a folder. A store that is not there, or
a disk that is full, gives ``503 store_unavailable`` JSON and stores nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import obstore
import pytest
from obstore.store import S3Store
from PIL import Image

from stateline.local.blob_server import BUCKET, REGION, BlobServer
from stateline.local.procs import free_port
from stateline.settings import Settings
from stateline.stores.blob_folder import TMP_PREFIX

TinyFs = Callable[[str], AbstractContextManager[Path]]


def png(size: tuple[int, int] = (32, 24), noise: bool = False) -> bytes:
    image = Image.new("RGB", size, (random.randrange(256), 40, 90))
    if noise:  # incompressible: the PNG is about as large as its pixels
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def assert_store_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "store_unavailable"


def test_upload_on_s3_is_an_object_in_seaweedfs(
    redis_url: str, settings_for: Callable[..., Settings], run_app: Any,
    seaweedfs: BlobServer,
) -> None:
    settings = replace(settings_for(redis_url), blob_url=seaweedfs.url)
    original = png()
    with run_app(settings, "app-s3-1") as one, run_app(settings, "app-s3-2") as two:
        stored = one.post("/api/images", content=original)
        assert stored.status_code == 201
        blob_id = stored.json()["id"]
        assert blob_id == hashlib.sha256(original).hexdigest()
        fetched = two.get(f"/api/images/{blob_id}")
        assert fetched.status_code == 200 and fetched.content == original
        resized = two.post(f"/api/images/resize?source={blob_id}&width=8&height=6")
        assert resized.status_code == 200
        assert Image.open(io.BytesIO(resized.content)).size == (8, 6)
    direct = S3Store(BUCKET, endpoint=seaweedfs.endpoint, region=REGION,
                     access_key_id=seaweedfs.access_key,
                     secret_access_key=seaweedfs.secret_key, client_options={"allow_http": True})
    assert bytes(obstore.get(direct, blob_id).bytes()) == original


def test_an_s3_store_that_is_down_gives_503_json(
    redis_url: str, settings_for: Callable[..., Settings], run_app: Any,
) -> None:
    down = (f"s3://{BUCKET}?endpoint=http://127.0.0.1:{free_port()}&region={REGION}"
            "&access_key_id=a&secret_access_key=b")
    settings = replace(settings_for(redis_url), blob_url=down)
    with run_app(settings, "app-s3-down") as app:
        assert_store_unavailable(app.post("/api/images", content=png()))
        assert_store_unavailable(app.get("/api/images/" + "ab" * 32))
        assert_store_unavailable(
            app.post(f"/api/images/resize?source={'cd' * 32}&width=2&height=2"))
        # Only the image endpoints need the blob store: the instance stays ready.
        assert app.get("/_stateline/health").status_code == 200


def test_a_full_disk_gives_503_json_and_no_partial_file(
    redis_url: str, settings_for: Callable[..., Settings], run_app: Any, tiny_fs: TinyFs,
) -> None:
    """Issue 10 item 8: before, ``No space left on device`` escaped as a 500."""
    with tiny_fs("512k") as root:
        settings = replace(settings_for(redis_url), blob_url=f"file://{root / 'blobs'}")
        big = png((320, 320), noise=True)  # about 300 KB of 512 KiB
        with run_app(settings, "app-full-disk") as app:
            assert app.post("/api/images", content=big).status_code == 201
            second = png((320, 320), noise=True)
            assert_store_unavailable(app.post("/api/images", content=second))
            assert not list(root.rglob(f"{TMP_PREFIX}*"))
            assert app.get(f"/api/images/{hashlib.sha256(second).hexdigest()}"
                           ).status_code == 404
            assert app.get(f"/api/images/{hashlib.sha256(big).hexdigest()}"
                           ).status_code == 200


@pytest.mark.parametrize("bad", ["ftp://nowhere", "s3://bucket/with/path"])
def test_a_bad_blob_url_fails_the_start_not_a_request(
    bad: str, redis_url: str, settings_for: Callable[..., Settings], run_app: Any,
) -> None:
    settings = replace(settings_for(redis_url), blob_url=bad)
    with pytest.raises(ValueError, match="blob URL"), run_app(settings, "app-bad-url"):
        pass
