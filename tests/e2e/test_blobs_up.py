"""`stateline up` with its embedded SeaweedFS: uploads are S3 objects, survive SIGKILL and down/up.

One topology (2 apps, the embedded Redis Cluster and SeaweedFS) for the
module, started as a user starts it. Under a steady upload load the blob
server is SIGKILLed (``stateline kill blobs``); every answer meanwhile must
be 201 or ``503 store_unavailable`` JSON (never a 500 or a dropped
connection), uploads must succeed again once the supervisor has restarted it,
and every acknowledged id must read back byte for byte -- after the kill and
again after Ctrl-C and a second ``up``.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest
from obstore.store import S3Store
from PIL import Image
from upstack import Stack, wait_for

from stateline.local import blob_server
from stateline.local.procs import free_port, processes_mentioning

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

#: Hang guards only; nothing asserts on how long anything took.
READY_S = 120
RECOVER_S = 120


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if blob_server.weed_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{blob_server.PACKAGE} is a dependency; CI must have it")
        pytest.skip(f"{blob_server.PACKAGE} not installed")
    s = Stack(tmp_path_factory.mktemp("e2e-blobs") / "data", free_port(), apps=2,
              ready_s=READY_S)
    s.start()
    try:
        yield s
    finally:
        s.close()


def unique_png(n: int) -> bytes:
    image = Image.new("RGB", (24, 16), (n % 256, (n // 256) % 256, 77))
    image.putpixel((0, 0), (n % 253, n % 251, n % 241))
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=_text(n))
    return buf.getvalue()


def _text(n: int) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("n", str(n))  # makes every upload's bytes, and so its id, unique
    return info


def s3_direct(data_dir: Path) -> S3Store:
    """A client of our own on the embedded SeaweedFS: ports and keys from the data dir."""
    ports = json.loads((data_dir / "topology.json").read_text())["blobs"]
    creds = json.loads((data_dir / "blobs" / "seaweedfs" / "s3.json").read_text())
    key = creds["identities"][0]["credentials"][0]
    return S3Store(blob_server.BUCKET, endpoint=f"http://127.0.0.1:{ports['s3']}",
                   region=blob_server.REGION, access_key_id=key["accessKey"],
                   secret_access_key=key["secretKey"], client_options={"allow_http": True})


def test_an_upload_through_the_gateway_is_an_object_in_seaweedfs(stack: Stack) -> None:
    """The README's `curl -X POST --data-binary @img.png localhost:8080/api/images`."""
    data = unique_png(10**6)
    r = httpx.post(f"{stack.url}/api/images", content=data, timeout=30)
    assert r.status_code == 201, r.text
    assert bytes(obstore.get(s3_direct(stack.data_dir), r.json()["id"]).bytes()) == data
    status = stack.status()
    assert stack.row("blobs")["state"] == "up"
    assert status["blob_url"].startswith("s3://stateline?")
    creds = (stack.data_dir / "blobs" / "seaweedfs" / "s3.json").read_text()
    assert json.loads(creds)["identities"][0]["credentials"][0]["secretKey"] \
        not in json.dumps(status)
    assert (stack.data_dir / "blobs").stat().st_mode & 0o077 == 0
    assert (stack.data_dir / "logs" / "blobs.log").stat().st_size > 0


class Load:
    """Uploads unique images from two threads; records every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acked: dict[str, bytes] = {}
        self.codes: dict[int, int] = {}
        self.bad: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.counter = iter(range(10**7))
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                with self.lock:
                    n = next(self.counter)
                data = unique_png(n)
                try:
                    r = http.post("/api/images", content=data)
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.bad.append(f"transport error: {exc!r}")
                    continue
                with self.lock:
                    self.codes[r.status_code] = self.codes.get(r.status_code, 0) + 1
                    if r.status_code == 201:
                        self.acked[r.json()["id"]] = data
                    elif r.status_code != 503 or not _is_store_unavailable(r):
                        self.bad.append(f"{r.status_code} {r.text[:200]}")

    def ok_count(self) -> int:
        with self.lock:
            return self.codes.get(201, 0)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def _is_store_unavailable(r: httpx.Response) -> bool:
    try:
        return r.json()["error"]["code"] == "store_unavailable"
    except (ValueError, KeyError, TypeError):
        return False


def assert_all_readable(url: str, acked: dict[str, bytes], when: str) -> None:
    lost: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=30) as http:
        for i, data in acked.items():
            r = http.get(f"/api/images/{i}")
            if r.status_code != 200 or r.content != data:
                lost[i] = r.status_code
    assert lost == {}, (f"{when}: {len(lost)} of {len(acked)} acknowledged blobs not read "
                        f"back; statuses {sorted(set(lost.values()))}")


def test_sigkill_of_the_blob_server_under_load_loses_no_acknowledged_blob(
        stack: Stack) -> None:
    old_pid = stack.row("blobs")["pid"]
    with Load(stack.url) as load:
        wait_for(lambda: load.ok_count() >= 20, RECOVER_S, "uploads before the kill")
        killed = stack.cli("kill", "blobs")
        assert killed.returncode == 0, killed.stderr
        before_restart = load.ok_count()
        wait_for(lambda: (row := stack.row("blobs"))["pid"] not in (None, old_pid)
                 and row["state"] == "up", RECOVER_S, "the supervisor to restart blobs")
        restarted_at = load.ok_count()
        wait_for(lambda: load.ok_count() >= restarted_at + 20, RECOVER_S,
                 "201 again after the restart")
    assert load.bad == [], load.bad[:5]
    print(f"answers during the kill test: {load.codes}; acknowledged: {len(load.acked)}; "
          f"201 before the kill: {before_restart}")
    assert stack.row("blobs")["restarts"] >= 1
    assert_all_readable(stack.url, load.acked, "after the kill")

    # And once more across Ctrl-C and a second `up` on the same data dir.
    stack.stop()
    assert stack.proc is not None and stack.proc.returncode == 0
    assert processes_mentioning(str(stack.data_dir)) == []
    stack.start()
    assert_all_readable(stack.url, load.acked, "after down and up")
