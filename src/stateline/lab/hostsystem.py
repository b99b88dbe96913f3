"""The whole stateline topology spread over :mod:`stateline.lab.netns` hosts.

``gw`` runs the gateway, ``app1..appN`` one app instance each, ``r1..rM`` the
Redis Cluster's nodes (a master and its replica never share a host), and
``pg`` a private PostgreSQL, ``blob`` SeaweedFS (``blobs=True``). Every process
binds its host's address and tells others that address: apps register it
(``--announce-host``), Redis nodes announce it (``cluster-announce-ip``),
PostgreSQL and SeaweedFS listen on it. The lab process (the "controller",
:mod:`stateline.lab.hosts`) reaches all of them through its own address on the
subnet.

This is what ``stateline up`` does on one loopback, laid out as a deployment
would be: the first place a hidden loopback assumption breaks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stateline.lab.netfaults import Faults
from stateline.lab.netns import Hosts
from stateline.lab.postgres import PrivatePostgres
from stateline.local import procs
from stateline.local.redis_cluster import EmbeddedRedisCluster, NodeHost
from stateline.stores.redis import PASSWORD_ENV, without_credentials

APP_PORT = 8000
GATEWAY_PORT = 8080
PG_PORT = 5432


def spread(nodes: int, hosts: int, masters: int) -> list[int]:
    """Host index of each Redis node: replica ``k`` lands one host after its master.

    Node ``k < masters`` is master ``k``; node ``masters + j`` replicates
    master ``j % masters`` (see :class:`EmbeddedRedisCluster`). With as many
    hosts as nodes each node gets its own.
    """
    if hosts >= nodes:
        return list(range(nodes))
    return [k % hosts if k < masters else ((k - masters) % masters + 1) % hosts
            for k in range(nodes)]


class HostSystem:
    """Start and stop gateway, apps, Redis nodes and PostgreSQL, each on its own host."""

    def __init__(self, apps: int = 3, redis_hosts: int = 3, postgres: bool = True,
                 blobs: bool = False, node_timeout_ms: int = 1000, workdir: Path | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.apps = [f"app{i + 1}" for i in range(apps)]
        self.redis_hosts = [f"r{i + 1}" for i in range(redis_hosts)]
        self.postgres = postgres
        self.node_timeout_ms = node_timeout_ms
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="stateline-hosts-"))
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.blobs = blobs
        names = (["gw", *self.apps, *self.redis_hosts] + (["pg"] if postgres else [])
                 + (["blob"] if blobs else []))
        self.hosts = Hosts(names)
        self.faults = Faults(self.hosts.plan)
        self.cluster: EmbeddedRedisCluster | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_token = secrets.token_hex(16)
        self.database_url: str | None = None
        self._pg: PrivatePostgres | None = None
        self.blob_url: str | None = None
        self._blob_proc: subprocess.Popen[bytes] | None = None

    # -- addresses -----------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        return f"http://{self.hosts.address('gw')}:{GATEWAY_PORT}"

    def app_address(self, name: str) -> str:
        return f"{self.hosts.address(name)}:{APP_PORT}"

    @property
    def redis_url(self) -> str:
        assert self.cluster is not None
        return self.cluster.url

    def redis_host_of(self, node_id: str) -> str:
        """The host name (``r2``) a Redis node runs on."""
        assert self.cluster is not None
        addr = self.cluster.host_of(node_id)
        return next(h.name for h in self.hosts.plan.hosts if h.address == addr)

    # -- life cycle ----------------------------------------------------------
    def start(self, ready_timeout: float = 60.0) -> HostSystem:
        try:
            self.hosts.create()
            self.log(f"hosts on {self.hosts.plan.subnet} (run {self.hosts.plan.run}): "
                     + ", ".join(
                f"{h.name}={h.address}" for h in self.hosts.plan.hosts))
            self._start_redis()
            if self.postgres:
                self._start_postgres()
            if self.blobs:
                self._start_blobs()
            for name in self.apps:
                self._start_app(name)
            self._start_gateway()
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything in order (apps drain, Redis flushes), then remove the hosts."""
        with contextlib.suppress(Exception):
            procs.stop_gracefully(list(self.procs.values()), 5.0)
        if self._blob_proc is not None:
            from stateline.local import blob_server

            with contextlib.suppress(Exception):
                blob_server.stop(self._blob_proc)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.stop()
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.stop()
            self._pg = None
        self.hosts.close()

    def __enter__(self) -> HostSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the parts -----------------------------------------------------------
    def _start_redis(self) -> None:
        masters, replicas = 3, 1
        count = masters * (1 + replicas)
        where = spread(count, len(self.redis_hosts), masters)
        placement = [NodeHost(self.hosts.address(self.redis_hosts[i]),
                              tuple(self.hosts.argv(self.redis_hosts[i], [])))
                     for i in where]
        self.cluster = EmbeddedRedisCluster(self.workdir / "redis", masters=masters,
                                            replicas_per_master=replicas,
                                            node_timeout_ms=self.node_timeout_ms,
                                            placement=placement)
        self.cluster.start()
        self.log("redis: " + ", ".join(f"{n.id}@{n.address} {n.role}"
                                       for n in self.cluster.nodes))

    def _start_postgres(self) -> None:
        addr = self.hosts.address("pg")
        # trust is limited to the private subnet: nothing else can reach this host.
        self._pg = PrivatePostgres(addr, PG_PORT, prefix=self.hosts.argv("pg", []),
                                   trust_from=str(self.hosts.plan.subnet))
        self.database_url = self._pg.start()
        self.log(f"postgres: {self.database_url}")

    def _start_blobs(self) -> None:
        """SeaweedFS (``weed server -s3``) on host ``blob``, as ``up`` starts it."""
        from stateline.local import blob_server

        binary = blob_server.weed_binary()
        if binary is None:
            raise RuntimeError(f"no weed binary: {blob_server.INSTALL_HINT}")
        server = blob_server.BlobServer.prepare(
            self.workdir / "blob", binary, host=self.hosts.address("blob"),
            prefix=tuple(self.hosts.argv("blob", [])))
        self._blob_proc = blob_server.run_standalone(server)
        self.blob_url = server.url
        self.log(f"blobs: S3 on {server.endpoint}")

    def app_env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        env.update({
            "STATELINE_REDIS_URL": self.redis_url,
            "STATELINE_REGISTRY_URL": self.redis_url,
            "STATELINE_DATA_DIR": str(self.workdir / name),
            "STATELINE_HOST": self.hosts.address(name),
            "STATELINE_ANNOUNCE_HOST": self.hosts.address(name),
            "STATELINE_PORT": str(APP_PORT),
            "STATELINE_INSTANCE_ID": name,
        })
        if self.database_url:
            env["STATELINE_DATABASE_URL"] = self.database_url
        if self.blob_url:
            env["STATELINE_BLOB_URL"] = self.blob_url
        return env

    def _start_app(self, name: str) -> None:
        (self.workdir / name).mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "stateline", "app", "--host", self.hosts.address(name),
                "--port", str(APP_PORT), "--instance-id", name]
        self.procs[name] = self.hosts.spawn(name, argv, self.workdir / "logs" / f"{name}.log",
                                            env=self.app_env(name))

    def _start_gateway(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        assert self.cluster is not None and self.cluster.password
        env[PASSWORD_ENV] = self.cluster.password
        env["STATELINE_ADMIN_TOKEN"] = self.admin_token
        argv = [sys.executable, "-m", "stateline", "gateway", "--listen",
                f"{self.hosts.address('gw')}:{GATEWAY_PORT}",
                "--registry", without_credentials(self.redis_url), "--pool", "apps"]
        self.procs["gw"] = self.hosts.spawn("gw", argv, self.workdir / "logs" / "gw.log", env)

    def pools(self) -> dict[str, Any]:
        """The gateway's ``/_stateline/pools`` (member states), with the admin token."""
        import httpx

        r = httpx.get(f"{self.gateway_url}/_stateline/pools", timeout=5,
                      headers={"Authorization": f"Bearer {self.admin_token}"})
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def members(self) -> dict[str, dict[str, Any]]:
        """Member id → what the gateway knows of it now (``address``, ``state``, ...)."""
        out: dict[str, dict[str, Any]] = {}
        for pool in self.pools().get("pools", []):
            for m in pool.get("members", []):
                out[str(m.get("id"))] = m
        return out

    def _wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    log = self.workdir / "logs" / f"{name}.log"
                    raise RuntimeError(f"{name} exited ({p.returncode}):\n"
                                       + log.read_text()[-3000:])
            try:
                members = self.members()
                last = str(members)
                if all(members.get(a, {}).get("state") == "healthy" for a in self.apps):
                    return
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"not every app was routable within {timeout:.0f}s: {last}")
