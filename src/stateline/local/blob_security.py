"""The embedded SeaweedFS's ``security.toml``: JWT keys that close its internal ports.

``weed server`` opens more than the S3 port: a master, a volume server and a
filer, each with an HTTP API, all on 127.0.0.1 where every local user can
connect. Unprotected, another user could download any blob from the filer
(``GET /buckets/stateline/ID``) or the volume server, write or delete
through them, or drop the whole bucket's collection through the master.

SeaweedFS's own remedy is signed requests, configured in ``security.toml``
(read from ``weed -config_dir``, which stateline points at its private folder
so that no ``~/.seaweedfs`` or ``/etc/seaweedfs`` file takes part):

- ``[jwt.signing]`` / ``[jwt.signing.read]``: the volume server accepts a
  write / read of a file id only with a token the master (or filer) signed
  for that id; the S3 gateway gets those over gRPC;
- ``[jwt.filer_signing]`` / ``[jwt.filer_signing.read]``: the filer's HTTP
  API wants a token for writes / reads. stateline also switches that API off
  (``-filer.disableHttp``), and the master's (``-disableHttp``), since only
  the S3 gateway, which talks gRPC, needs them; the keys still guard the
  filer should it ever be switched on.

The four keys are random (32 bytes each), made at the first start and kept in
the file itself (mode 0600, in the 0700 folder, never on a command line);
later starts reuse them. Rotation: stop stateline, delete the file.

The gRPC ports (each HTTP port + 10000) are not covered by JWT; the
``[grpc]`` sections (mutual TLS, :mod:`blob_tls`) are written into the same
file at every start.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path

from stateline.local import blob_tls

FILE = "security.toml"
#: The sections of ``weed scaffold -config=security`` that hold a JWT key.
SECTIONS = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
#: How long a token the master or filer hands out stays valid (SeaweedFS's default).
EXPIRES_AFTER_SECONDS = 10


def security_path(root: Path) -> Path:
    return root / FILE


def read_keys(root: Path) -> dict[str, str]:
    """The key of each section in ``root``'s ``security.toml`` (``{}`` if there is none)."""
    path = security_path(root)
    if not path.exists():
        return {}
    doc = tomllib.loads(path.read_text())
    keys: dict[str, str] = {}
    for section in SECTIONS:
        node: object = doc
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        key = node.get("key") if isinstance(node, dict) else None
        if isinstance(key, str) and key:
            keys[section] = key
    return keys


def render(keys: dict[str, str], tls: dict[str, Path]) -> str:
    lines = ["# Written by stateline (see src/stateline/local/blob_security.py). Mode 0600.\n"]
    for section in SECTIONS:
        lines.append(f'\n[{section}]\nkey = "{keys[section]}"\n'
                     f"expires_after_seconds = {EXPIRES_AFTER_SECONDS}\n")
    return "".join(lines) + blob_tls.render(tls)


def load_or_make_security(root: Path) -> dict[str, str]:
    """Make sure ``root/security.toml`` has all four keys (0600); return them.

    Keys already there are kept (a restart must accept what it signed
    before); missing ones are made. The file is written again each time
    (atomically, 0600), so that the ``[grpc]`` paths follow a moved data dir.
    """
    keys = read_keys(root)
    tls = blob_tls.load_or_make_certs(root / "tls")
    for section in SECTIONS:
        keys.setdefault(section, secrets.token_hex(32))
    path = security_path(root)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render(keys, tls))
    tmp.replace(path)
    return keys
