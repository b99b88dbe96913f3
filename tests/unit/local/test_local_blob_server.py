"""The embedded blob server's plan: ports kept with Redis's, private keys, loopback flags."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stateline.local import blob_server
from stateline.local.blob_server import BlobServer, load_or_choose_ports
from stateline.local.topology import CLUSTER_BUS_OFFSET, load_or_choose
from stateline.stores.blob_s3 import parse_s3_url


def test_blob_ports_are_chosen_once_and_live_beside_the_redis_ports(tmp_path: Path) -> None:
    topo = tmp_path / "topology.json"
    redis, _ = load_or_choose(topo, 6, 3, lambda p: True)
    first = load_or_choose_ports(topo, lambda p: True)
    again = load_or_choose_ports(topo, lambda p: False)  # nothing free: the saved ones win
    assert again == first
    assert load_or_choose(topo, 6, 3, lambda p: False) == (redis, False)  # Redis kept too
    assert json.loads(topo.read_text())["blobs"]["s3"] == first.s3


def test_redis_ports_chosen_after_the_blob_ports_keep_them(tmp_path: Path) -> None:
    """External Redis first (only blob ports saved), embedded Redis later."""
    topo = tmp_path / "topology.json"
    blobs = load_or_choose_ports(topo, lambda p: True)
    _, new = load_or_choose(topo, 6, 3, lambda p: True)
    assert new and load_or_choose_ports(topo, lambda p: False) == blobs


def test_each_blob_port_has_its_grpc_port_free(tmp_path: Path) -> None:
    busy = set(range(12000, 22767, 3))
    ports = load_or_choose_ports(tmp_path / "t.json", lambda p: p not in busy)
    for p in ports.as_dict().values():
        assert p not in busy and p + CLUSTER_BUS_OFFSET not in busy


def test_keys_are_private_made_once_and_in_the_apps_url(tmp_path: Path) -> None:
    server = BlobServer.prepare(tmp_path, Path("/bin/true"), lambda p: True)
    again = BlobServer.prepare(tmp_path, Path("/bin/true"), lambda p: False)
    assert (again.access_key, again.secret_key) == (server.access_key, server.secret_key)
    config = server.root / "s3.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    for d in (tmp_path / "blobs", server.root, server.root / "data"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    loc = parse_s3_url(server.url)
    assert loc.bucket == blob_server.BUCKET
    assert loc.config["endpoint"] == f"http://127.0.0.1:{server.ports.s3}"
    assert loc.config["secret_access_key"] == server.secret_key


def test_weed_listens_on_loopback_only_and_phones_nobody(tmp_path: Path) -> None:
    argv = BlobServer.prepare(tmp_path, Path("/bin/true"), lambda p: True).argv()
    assert "-ip.bind=127.0.0.1" in argv and "-ip=127.0.0.1" in argv
    assert "-master.telemetry=false" in argv
    assert "-s3.port.iceberg=0" in argv and "-s3.port.lance=0" in argv


def test_restarts_wait_for_the_canary_once_it_exists(tmp_path: Path) -> None:
    server = BlobServer.prepare(tmp_path, Path("/bin/true"), lambda p: True)
    assert server.spec().also_ready == ()
    server.canary_marker.write_text("")
    assert server.spec().also_ready == ((server.ports.s3, blob_server.CANARY_PATH),)


def test_without_the_wheel_up_uses_the_folder_and_says_how_to_get_s3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blob_server, "weed_binary", lambda: None)
    server, url, note = blob_server.embedded_or_folder(tmp_path)
    assert server is None and url == f"file://{tmp_path / 'blobs'}"
    assert blob_server.INSTALL_HINT in note


def test_the_installed_wheel_is_found_from_its_package() -> None:
    binary = blob_server.weed_binary()
    if binary is None:
        pytest.skip(f"{blob_server.PACKAGE} not installed")
    assert binary.name == "weed" and binary.is_file()
