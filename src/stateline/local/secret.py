"""The embedded Redis Cluster's password: made once per data dir, readable by its owner only.

Without a password any local user could read every session, add a fake
instance to the registry (and so receive other users' requests and cookies),
or ``CONFIG SET dir`` + ``SAVE`` to write a file wherever redis-server may.
So the first start of a data dir draws 32 random bytes, writes them (hex) to
``DATA_DIR/redis.secret`` with mode 0600, and every later start reads the same
file. Rotation is deleting the file and starting again: every node is then
started with the new one (masters and replicas together, so they still sync).

The secret never goes on a command line (``ps`` shows those to every user):
redis-server reads it from a 0600 config file (:func:`write_redis_conf`), the
apps and the gateway from their environment (see :mod:`stateline.stores.redis`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_NAME = "redis.secret"
#: Commands no client may run: CONFIG (write files anywhere: ``CONFIG SET dir``),
#: DEBUG (crash or stall a node) and MODULE (load a shared object = run code).
DISABLED_COMMANDS = ("CONFIG", "DEBUG", "MODULE")


class SecretError(RuntimeError):
    """The secret file exists but cannot be used (not ours, not a file, empty)."""


def secret_path(data_dir: Path) -> Path:
    return Path(data_dir) / SECRET_NAME


def read_secret(data_dir: Path) -> str | None:
    """The data dir's secret, or ``None`` if it has none yet (an external Redis, say)."""
    path = secret_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise SecretError(f"{path} belongs to uid {st.st_uid}, not to you; "
                              "delete it if you did not make it")
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)  # an older or copied file: make it private again
        value = os.read(fd, 4096).decode(errors="replace").strip()
    finally:
        os.close(fd)
    if not value:
        raise SecretError(f"{path} is empty; delete it to make a new one")
    return value


def ensure_secret(data_dir: Path) -> str:
    """The data dir's secret, made now (mode 0600) if it has none."""
    existing = read_secret(data_dir)
    if existing is not None:
        return existing
    path = secret_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except FileExistsError:  # another process made it a moment ago: use that one
        again = read_secret(data_dir)
        if again is None:
            raise SecretError(f"{path} vanished while being made") from None
        return again
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (value + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return value


def redis_conf_text(secret: str) -> str:
    """The part of a node's configuration that carries the secret and the disabled commands.

    ``requirepass`` makes clients AUTH; ``masterauth`` lets a replica (and a
    former master that comes back as one) authenticate to its master.
    """
    lines = [f'requirepass "{secret}"', f'masterauth "{secret}"']
    lines += [f'rename-command {name} ""' for name in DISABLED_COMMANDS]
    return "\n".join(lines) + "\n"


def write_redis_conf(path: Path, secret: str) -> Path:
    """Write :func:`redis_conf_text` to ``path`` with mode 0600 (atomically); returns ``path``."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, redis_conf_text(secret).encode())
    finally:
        os.close(fd)
    tmp.replace(path)
    return path
