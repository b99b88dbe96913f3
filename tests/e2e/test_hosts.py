"""The seed's scenario with every component on its own host (network namespace).

gateway on ``gw``, one app instance on each of ``app1..app3``, the six Redis
Cluster nodes over ``r1..r3`` (no master shares a host with its replica),
PostgreSQL on ``pg``, SeaweedFS on ``blob``. Nothing listens on loopback: if any component still
assumed 127.0.0.1 (an app registering it, a node announcing it), a request
through the gateway would fail here.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest
from PIL import Image

from stateline.lab.hostsystem import HostSystem
from stateline.lab.netns import leftovers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def system(needs_hosts: None) -> Iterator[HostSystem]:
    s = HostSystem(apps=3, redis_hosts=3, postgres=True, blobs=True)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def http(system: HostSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.gateway_url, timeout=10) as c:
        yield c


def test_every_component_is_on_its_own_address(system: HostSystem) -> None:
    members = system.members()
    assert {m: members[m]["address"] for m in system.apps} == {
        a: system.app_address(a) for a in system.apps}
    assert system.cluster is not None
    nodes = system.cluster.nodes
    assert {n.host for n in nodes} == {system.hosts.address(r) for r in system.redis_hosts}
    assert not any(n.host.startswith("127.") for n in nodes)
    # Every node's view of the cluster names peers by their host address, not loopback.
    text = system.cluster._node_client(nodes[0].id).execute_command("CLUSTER", "NODES")
    text = text.decode() if isinstance(text, bytes) else str(text)
    assert "127.0.0.1" not in text
    assert system.database_url and system.hosts.address("pg") in system.database_url
    assert system.blob_url and system.hosts.address("blob") in unquote(system.blob_url)


def test_the_seed_scenario_through_the_gateway(system: HostSystem, http: httpx.Client) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.org"
    r = http.post("/api/users", json={"name": "Ada", "email": email})
    assert r.status_code == 201, r.text
    user = r.json()
    assert http.get(f"/api/users/{user['id']}").json()["email"] == email

    cart = f"/api/carts/{user['id']}"
    assert http.post(f"{cart}/items", json={"sku": "tea", "qty": 2}).status_code // 100 == 2
    assert http.post(f"{cart}/items", json={"sku": "tea", "qty": 1}).status_code // 100 == 2
    assert http.get(cart).json()["items"] == [{"sku": "tea", "qty": 3}]

    before = http.get("/api/counter").json()["value"]
    values = [http.post("/api/counter/incr").json()["value"] for _ in range(6)]
    assert values == list(range(before + 1, before + 7))

    r = http.post("/api/sessions", json={"user": "ada"})
    assert r.status_code // 100 == 2
    assert http.get("/api/sessions/me").json() == {"user": "ada"}

    r = http.put("/api/players/p1/position", json={"x": 1.5, "y": -2})
    assert r.status_code // 100 == 2
    assert http.get("/api/players/p1/position").json()["x"] == 1.5


def test_an_image_stored_via_one_app_host_is_read_via_every_other(
        system: HostSystem, http: httpx.Client) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buf, "PNG")
    r = http.post("/api/images", content=buf.getvalue(),
                  headers={"content-type": "image/png"})
    assert r.status_code == 201, r.text
    image = r.json()
    readers: set[str] = set()
    for _ in range(60):
        got = http.get(f"/api/images/{image['id']}")
        assert got.status_code == 200 and got.content == buf.getvalue()
        readers.add(got.headers["x-served-by"])
        if readers == set(system.apps):
            break
    assert readers == set(system.apps)


def test_each_app_host_serves_and_sees_the_others_writes(
        system: HostSystem, http: httpx.Client) -> None:
    r = http.post("/api/users", json={"name": "Bo", "email": f"bo-{uuid.uuid4().hex[:8]}@x.org"})
    user = r.json()
    served: dict[str, int] = {}
    for _ in range(60):  # round robin: every instance gets some of 60 reads
        got = http.get(f"/api/users/{user['id']}")
        assert got.status_code == 200
        served[got.headers["x-served-by"]] = served.get(got.headers["x-served-by"], 0) + 1
        if set(served) == set(system.apps):
            break
    assert set(served) == set(system.apps)


def test_nothing_is_left_behind_after_stop(needs_hosts: None) -> None:
    s = HostSystem(apps=1, redis_hosts=3, postgres=False)
    s.start()
    pids = [p.pid for p in s.procs.values()]
    run = s.hosts.plan.run
    names = s.hosts.plan.namespaces
    assert set(leftovers(run)["namespaces"]) == set(names)
    s.stop()
    assert leftovers(run) == {"namespaces": [], "links": [], "processes": []}
    import os
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
