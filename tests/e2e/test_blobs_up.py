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
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest
from obstore.store import S3Store
from PIL import Image

from stateline.local import blob_server
from stateline.local.control import ControlClient, ControlError
from stateline.local.procs import free_port, processes_mentioning

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STATELINE = [sys.executable, "-m", "stateline"]
#: Hang guards only; nothing asserts on how long anything took.
READY_S = 120
RECOVER_S = 120


@dataclass
class Stack:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir.parent / "up.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*STATELINE, "up", "--port", str(self.port), "--apps", "2",
                 "--data-dir", str(self.data_dir)],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir.parent)
        wait_for(self._ready, READY_S, "stateline up to be ready")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"stateline up exited ({self.proc.returncode}):\n"
                                 + self.log.read_text())
        if not all(p["state"] == "up" for p in self.status()["processes"]):
            return False
        return httpx.get(f"{self.url}/_stateline/health", timeout=2).status_code == 200

    def status(self) -> dict[str, Any]:
        return ControlClient(self.data_dir, timeout=30).call({"cmd": "status"})

    def blobs_row(self) -> dict[str, Any]:
        return next(p for p in self.status()["processes"] if p["id"] == "blobs")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*STATELINE, *args, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except (ControlError, httpx.HTTPError, StopIteration):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if blob_server.weed_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{blob_server.PACKAGE} is a dependency; CI must have it")
        pytest.skip(f"{blob_server.PACKAGE} not installed")
    s = Stack(tmp_path_factory.mktemp("e2e-blobs") / "data", free_port())
    s.start()
    try:
        yield s
    finally:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.send_signal(signal.SIGINT)
            s.proc.wait(30)


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
    assert stack.blobs_row()["state"] == "up"
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
    old_pid = stack.blobs_row()["pid"]
    with Load(stack.url) as load:
        wait_for(lambda: load.ok_count() >= 20, RECOVER_S, "uploads before the kill")
        killed = stack.cli("kill", "blobs")
        assert killed.returncode == 0, killed.stderr
        before_restart = load.ok_count()
        wait_for(lambda: (row := stack.blobs_row())["pid"] not in (None, old_pid)
                 and row["state"] == "up", RECOVER_S, "the supervisor to restart blobs")
        restarted_at = load.ok_count()
        wait_for(lambda: load.ok_count() >= restarted_at + 20, RECOVER_S,
                 "201 again after the restart")
    assert load.bad == [], load.bad[:5]
    print(f"answers during the kill test: {load.codes}; acknowledged: {len(load.acked)}; "
          f"201 before the kill: {before_restart}")
    assert stack.blobs_row()["restarts"] >= 1
    assert_all_readable(stack.url, load.acked, "after the kill")

    # And once more across Ctrl-C and a second `up` on the same data dir.
    stack.stop()
    assert stack.proc is not None and stack.proc.returncode == 0
    assert processes_mentioning(str(stack.data_dir)) == []
    stack.start()
    assert_all_readable(stack.url, load.acked, "after down and up")
