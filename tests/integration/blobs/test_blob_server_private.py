"""Another local user cannot get at the embedded SeaweedFS's blobs (issue 10).

A real ``weed server -s3`` (the session fixture, started with ``up``'s
flags and ``security.toml``) holds an object uploaded through S3 the way the
app does. Then, as ``nobody`` (``setpriv``, so root is needed: skipped with
the reason otherwise, an error under CI), every other way in is tried: the
filer's and master's HTTP APIs (switched off), the volume server with the
object's real file id (unsigned: 401), and gRPC (mutual TLS: no connection
without the private certificate). The app's S3 path keeps working throughout.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from otheruser import as_nobody, required

from stateline.local import blob_security
from stateline.local.blob_server import BUCKET, CANARY_PATH, BlobServer
from stateline.stores.blobs import open_blob_store

GUARD_S = 60


pytestmark = required()

#: Run by ``nobody`` with the base interpreter (-I -S: nothing of the private venv):
#: each (method, url, body) in argv[1] -> the HTTP status, or "refused"/the error.
PROBE = r"""
import json, sys, urllib.request, urllib.error
out = []
for method, url, body in json.loads(sys.argv[1]):
    req = urllib.request.Request(url, method=method,
                                 data=body.encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            out.append([r.status, r.read(200).decode("latin-1")])
    except urllib.error.HTTPError as e:
        out.append([e.code, e.read(200).decode("latin-1")])
    except (urllib.error.URLError, OSError) as e:
        out.append(["refused", str(e)])
print(json.dumps(out))
"""


def probe_as_nobody(requests: list[tuple[str, str, str | None]]) -> list[list[object]]:
    python = getattr(sys, "_base_executable", None) or sys.executable
    done = as_nobody(python, "-I", "-S", "-c", PROBE, json.dumps(requests))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, GUARD_S))


@pytest.fixture
def uploaded(seaweedfs: BlobServer, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """An object put through S3 exactly as the app puts one; removed afterwards."""
    store = open_blob_store(seaweedfs.url, tmp_path)
    key, data = f"private/{uuid.uuid4().hex}", b"\x89PNG private image " + os.urandom(64)
    run(store.put(key, data))
    try:
        yield key, data
    finally:
        run(store.delete(key))
        run(store.close())


def file_id(server: BlobServer, key: str) -> str:
    """The object's volume file id, asked of the filer over gRPC as the owner (``weed shell``)."""
    p = server.ports
    done = subprocess.run(
        [str(server.binary), f"-config_dir={server.root}", "shell",
         f"-master=127.0.0.1:{p.master}", f"-filer=127.0.0.1:{p.filer}"],
        input=f"fs.meta.cat /buckets/{BUCKET}/{key}\n", capture_output=True, text=True,
        timeout=GUARD_S, cwd=server.root)
    for line in done.stdout.splitlines():
        if '"fileId"' in line:
            return line.split(":", 1)[1].strip().strip('",')
    raise AssertionError(f"no fileId in weed shell's answer: {done.stdout[-500:]}{done.stderr}")


def test_nobody_cannot_read_or_write_through_the_filer_or_master(
        seaweedfs: BlobServer, uploaded: tuple[str, bytes]) -> None:
    key, data = uploaded
    filer = f"http://127.0.0.1:{seaweedfs.ports.filer}"
    master = f"http://127.0.0.1:{seaweedfs.ports.master}"
    tries = [("GET", f"{filer}/buckets/{BUCKET}/{key}", None),
             ("GET", f"{filer}/buckets/{BUCKET}/?pretty=y", None),
             ("PUT", f"{filer}/buckets/{BUCKET}/{key}", "overwritten"),
             ("DELETE", f"{filer}/buckets/{BUCKET}/{key}", None),
             ("GET", f"{master}/dir/assign", None),
             ("GET", f"{master}/dir/lookup?volumeId=1", None),
             ("POST", f"{master}/col/delete?collection={BUCKET}", None),
             ("GET", f"{master}/vol/status", None)]
    answers = probe_as_nobody(tries)
    for (method, url, _), (status, body) in zip(tries, answers, strict=True):
        assert status in (401, 403, 404, "refused"), (method, url, status, body)
        assert data.decode("latin-1")[:16] not in str(body)
    # Still there, unchanged, for the app.
    store = open_blob_store(seaweedfs.url, Path("/nonexistent"))
    try:
        assert run(store.get(key)) == data
    finally:
        run(store.close())


def test_nobody_cannot_read_or_write_the_volume_even_knowing_the_file_id(
        seaweedfs: BlobServer, uploaded: tuple[str, bytes]) -> None:
    key, data = uploaded
    fid = file_id(seaweedfs, key)
    url = f"http://127.0.0.1:{seaweedfs.ports.volume}/{fid}"
    answers = probe_as_nobody([("GET", url, None), ("PUT", url, "overwritten"),
                               ("DELETE", url, None)])
    assert [a[0] for a in answers] == [401, 401, 401], answers
    store = open_blob_store(seaweedfs.url, Path("/nonexistent"))
    try:
        assert run(store.get(key)) == data
    finally:
        run(store.close())


def test_anonymous_s3_gets_the_canary_and_nothing_else(
        seaweedfs: BlobServer, uploaded: tuple[str, bytes]) -> None:
    key, _ = uploaded
    s3 = f"http://127.0.0.1:{seaweedfs.ports.s3}"
    answers = probe_as_nobody([("GET", f"{s3}{CANARY_PATH}", None),
                               ("GET", f"{s3}/{BUCKET}/{key}", None),
                               ("GET", f"{s3}/{BUCKET}?list-type=2", None),
                               ("PUT", f"{s3}/{BUCKET}/{key}", "overwritten"),
                               ("PUT", f"{s3}{CANARY_PATH}", "overwritten")])
    assert [a[0] for a in answers] == [200, 403, 403, 403, 403], answers


def test_the_keys_are_private_and_on_no_command_line(seaweedfs: BlobServer) -> None:
    path = blob_security.security_path(seaweedfs.root)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    keys = blob_security.read_keys(seaweedfs.root)
    assert set(keys) == set(blob_security.SECTIONS)
    argv = " ".join(seaweedfs.argv())
    assert all(k not in argv for k in keys.values())
    assert "-disableHttp" in argv and "-filer.disableHttp" in argv


@pytest.fixture
def weed_for_nobody(seaweedfs: BlobServer, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[str, Path]]:
    """The wheel's ``weed`` where ``nobody`` may run it, and a folder it may write to."""
    base = tmp_path_factory.mktemp("nobody")
    os.chmod(base, 0o777)
    for parent in base.parents:  # pytest's tmp dirs are 0700: let nobody through
        if parent == Path(tempfile_root()):
            break
        os.chmod(parent, parent.stat().st_mode | 0o711)
    weed = base / "weed"
    try:
        os.link(seaweedfs.binary, weed)
    except OSError:
        shutil.copy2(seaweedfs.binary, weed)
    os.chmod(weed, 0o755)
    out = base / "out"
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    yield str(weed), out


def tempfile_root() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_nobody_cannot_copy_a_volume_over_grpc(
        seaweedfs: BlobServer, uploaded: tuple[str, bytes],
        weed_for_nobody: tuple[str, Path]) -> None:
    key, _ = uploaded
    weed, out = weed_for_nobody
    vid = file_id(seaweedfs, key).split(",")[0]
    p = seaweedfs.ports
    backup = ["backup", f"-server=127.0.0.1:{p.master}", f"-volumeId={vid}",
              f"-collection={BUCKET}"]
    # Without the certificate: no connection (before mTLS this copied the whole volume).
    tried = as_nobody(weed, *backup, f"-dir={out}")
    assert not list(out.glob("*.dat")), tried.stdout + tried.stderr
    # The owner, with the certificate from security.toml, can: the refusal is the TLS.
    mine = out.parent / "mine"
    mine.mkdir()
    done = subprocess.run([str(seaweedfs.binary), f"-config_dir={seaweedfs.root}", *backup,
                           f"-dir={mine}"], capture_output=True, text=True, timeout=GUARD_S,
                          cwd=seaweedfs.root)
    assert list(mine.glob("*.dat")), done.stdout + done.stderr
