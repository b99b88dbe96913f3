"""The dev overlay's gateway and app containers, started as Kubernetes would start them.

No cluster here, so this is the closest run: each container's command line and
environment are taken from the rendered manifests (ConfigMap, Secret,
``$(VAR)`` expansion, downward-API fields with a made-up pod name and
127.0.0.1 as pod IP) and run with this checkout's ``stateline``. Only what
cannot exist on this machine is replaced: the store URLs (the cluster's DNS
names) point at this session's real Redis Cluster (with its password) and
PostgreSQL, the blob URL at a folder (the cluster's SeaweedFS is not here),
and the ports are free ones instead of 8000/8080. Then the probes are asked,
the gateway routes to the app by the pod name it registered, and the
``preStop`` hook drains the app.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from k8s_checks import KUSTOMIZE, container_env, container_named, find, stateline_args
from k8s_render import render

from stateline.local.procs import free_port, wait_port
from stateline.registry import Member, RegistryWatcher
from stateline.stores.redis import connect, credentials, without_credentials

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
POD_NAME = "stateline-app-5c8d7f9b6-x2v4q"
DEADLINE_S = 60.0  # hang guard only


def _members(redis_url: str, pool: str) -> list[Member]:
    async def snapshot() -> list[Member]:
        redis = connect(redis_url)
        try:
            return await RegistryWatcher(redis, pool).snapshot()
        finally:
            await redis.aclose()

    return asyncio.run(snapshot())


def _environ(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without STATELINE_* (a developer's shell must not leak
    in), plus the container's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    return {**base, **env}


def _wait_status(url: str, want: int, headers: dict[str, str] | None = None) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            response = httpx.get(url, headers=headers, timeout=5.0)
            if response.status_code == want:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer {want} within {DEADLINE_S:g}s")
        time.sleep(0.1)


def test_gateway_and_app_pods_serve_register_and_drain(
        tmp_path: Path, redis_cluster_url: str, postgres_url: str) -> None:
    objects = render(KUSTOMIZE / "dev")
    pool = f"k8s-{uuid.uuid4().hex[:8]}"  # the session's cluster is shared: our own pool
    app_port, gw_port = free_port(), free_port()
    # The manifests' Redis URLs carry no password; STATELINE_REDIS_PASSWORD (from the
    # Secret) does. Here: this session's cluster, and its password.
    redis_hosts = without_credentials(redis_cluster_url)
    _, redis_password = credentials(redis_cluster_url)
    assert redis_password
    replaced = {"STATELINE_REDIS_URL": redis_hosts,
                "STATELINE_REGISTRY_URL": redis_hosts,
                "STATELINE_REDIS_PASSWORD": redis_password,
                "STATELINE_DATABASE_URL": postgres_url,
                "STATELINE_PORT": str(app_port), "STATELINE_POOL": pool,
                "STATELINE_DATA_DIR": str(tmp_path / "data"),
                # The cluster's SeaweedFS is not here: the blob store's folder backend is.
                "STATELINE_BLOB_URL": (tmp_path / "blobs").as_uri()}

    app_c = container_named(objects, "Deployment", "stateline-app", "app")
    app_env = container_env(objects, "stateline", app_c,
                            {"status.podIP": "127.0.0.1", "metadata.name": POD_NAME})
    assert not [v for v in app_env.values() if v.startswith("<")], app_env
    assert app_env["STATELINE_HOST"] == "127.0.0.1"
    assert app_env["STATELINE_INSTANCE_ID"] == POD_NAME
    assert set(replaced) <= set(app_env)
    app_env.update(replaced)
    app_args = stateline_args(app_c, app_env)

    gw_c = container_named(objects, "Deployment", "stateline-gateway", "gateway")
    gw_env = container_env(objects, "stateline", gw_c)
    assert {"STATELINE_REGISTRY_URL", "STATELINE_REDIS_PASSWORD"} <= set(gw_env)
    gw_env.update({k: v for k, v in replaced.items() if k in gw_env})
    gw_args = stateline_args(gw_c, gw_env)
    listen = gw_args.index("--listen") + 1
    assert gw_args[listen] == "0.0.0.0:8080"
    gw_args[listen] = f"127.0.0.1:{gw_port}"

    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("app", "gateway")}
    app = subprocess.Popen([sys.executable, "-m", "stateline", *app_args],
                           env=_environ(app_env), stdout=logs["app"], stderr=subprocess.STDOUT)
    gateway = subprocess.Popen([sys.executable, "-m", "stateline", *gw_args],
                               env=_environ(gw_env), stdout=logs["gateway"],
                               stderr=subprocess.STDOUT)
    try:
        # The app's readiness probe, on the port its 'http' port stands for.
        probe = app_c["readinessProbe"]["httpGet"]
        assert probe["port"] == "http"
        _wait_status(f"http://127.0.0.1:{app_port}{probe['path']}", 200)
        [member] = _members(redis_cluster_url, pool)
        assert (member.id, member.address, member.state) == (POD_NAME, f"127.0.0.1:{app_port}",
                                                             "up")

        # The gateway's readiness probe, then a request routed to the app by the registry.
        wait_port(gw_port, DEADLINE_S)
        _wait_status(f"http://127.0.0.1:{gw_port}{gw_c['readinessProbe']['httpGet']['path']}",
                     200)
        answer = _wait_status(f"http://127.0.0.1:{gw_port}/api/calc/add?a=2&b=3", 200)
        assert answer.headers["x-served-by"] == POD_NAME
        token = gw_env["STATELINE_ADMIN_TOKEN"]
        pools = _wait_status(f"http://127.0.0.1:{gw_port}/_stateline/pools", 200,
                             {"authorization": f"Bearer {token}"}).text
        assert POD_NAME in pools
        annotations = find(objects, "Deployment", "stateline-gateway")["spec"]["template"][
            "metadata"]["annotations"]
        metrics = _wait_status(f"http://127.0.0.1:{gw_port}{annotations['prometheus.io/path']}",
                               200).text
        assert "stateline_gateway_requests_total" in metrics

        # preStop, with this process's pid where the container has PID 1.
        hook = app_c["lifecycle"]["preStop"]["exec"]["command"]
        script = re.sub(r"\b1\b(?=;| 2>)", str(app.pid), hook[-1])
        assert script != hook[-1]
        grace = find(objects, "Deployment", "stateline-app")["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"]
        # Reap the app as soon as it exits, as the container runtime would: an unreaped
        # child stays a zombie, and `kill -0` on a zombie succeeds forever.
        reaper = threading.Thread(target=app.wait, daemon=True)
        reaper.start()
        done = subprocess.run([*hook[:-1], script], timeout=grace, check=False)
        assert done.returncode == 0
        reaper.join(5)
        assert app.returncode == 0  # the hook returned because the app had exited, cleanly
        assert _members(redis_cluster_url, pool) == []  # deregistered, not left to expire
    finally:
        for proc in (gateway, app):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        for f in logs.values():
            f.close()
