"""What the supervisor runs: the command line, environment and log file of each process.

The supervisor does not know how an app instance or the gateway is written;
it only knows how to start one (:class:`Commands`), which port it listens on,
and that ``GET /_stateline/health`` answers 200 once it is ready. Tests swap
in other :class:`Commands` to drive the supervisor with tiny stand-ins.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Protocol

from stateline.settings import ENV_PREFIX, Settings
from stateline.stores.redis import PASSWORD_ENV, USERNAME_ENV, credentials, without_credentials

HEALTH_PATH = "/_stateline/health"


class Commands(Protocol):
    """How to start each kind of process: stateless apps, the gateway, rooms shards."""

    def app(self, instance_id: str, port: int) -> list[str]: ...

    def gateway(self, port: int, registry_url: str, pool: str) -> list[str]: ...

    def gateway_config(self, port: int, config: Path) -> list[str]: ...

    def shard(self, instance_id: str, port: int) -> list[str]: ...


@dataclass(frozen=True)
class StatelineCommands:
    """The real processes: ``python -m stateline app`` and ``python -m stateline gateway``."""

    python: str = field(default_factory=lambda: sys.executable)
    #: The address every process binds (and the apps register).
    host: str = "127.0.0.1"

    def app(self, instance_id: str, port: int) -> list[str]:
        return [self.python, "-m", "stateline", "app", "--host", self.host,
                "--port", str(port), "--instance-id", instance_id]

    def gateway(self, port: int, registry_url: str, pool: str) -> list[str]:
        return [self.python, "-m", "stateline", "gateway", "--listen", f"{self.host}:{port}",
                "--registry", registry_url, "--pool", pool]

    def gateway_config(self, port: int, config: Path) -> list[str]:
        return [self.python, "-m", "stateline", "gateway", "--config", str(config),
                "--listen", f"{self.host}:{port}"]

    def shard(self, instance_id: str, port: int) -> list[str]:
        return [self.python, "-m", "stateline", "shard", "--host", self.host,
                "--port", str(port), "--instance-id", instance_id]


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process, enough to (re)start it the same way every time."""

    id: str
    role: str  # "app" | "gateway" | "shard"
    argv: tuple[str, ...]
    env: Mapping[str, str]
    port: int
    log_path: Path
    health_path: str = HEALTH_PATH
    #: Where the supervisor dials it (health checks, status).
    host: str = "127.0.0.1"
    #: More ``(port, path)`` probes that must answer 200 after the first (the blob canary).
    also_ready: tuple[tuple[int, str], ...] = ()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def on_port(self, port: int, commands: Commands, settings: Settings) -> ProcessSpec:
        """The same process moved to another port (its old one was taken meanwhile)."""
        if self.role == "app":
            return app_spec(commands, settings, self.id, port)
        if self.role == "shard":
            return shard_spec(commands, settings, self.id, port)
        return gateway_spec(commands, settings, port)


def child_environ(settings: Settings, instance_id: str | None = None) -> dict[str, str]:
    """This process's environment plus the ``STATELINE_*`` settings a child needs.

    Inherited variables named after a :class:`Settings` field are dropped first,
    so that a stale one in the user's shell (``STATELINE_INSTANCE_ID``, say)
    cannot contradict what the supervisor decided; other ``STATELINE_*``
    variables (tuning knobs of one package) pass through.
    """
    ours = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
    env = {k: v for k, v in os.environ.items() if k not in ours}
    child = settings.with_(instance_id=instance_id) if instance_id else settings
    env.update(child.environ())
    return env


def app_spec(commands: Commands, settings: Settings, instance_id: str, port: int) -> ProcessSpec:
    return ProcessSpec(
        id=instance_id, role="app", argv=tuple(commands.app(instance_id, port)),
        env=child_environ(settings, instance_id), port=port,
        log_path=settings.data_dir / "logs" / f"{instance_id}.log",
    )


def shard_spec(commands: Commands, settings: Settings, instance_id: str,
               port: int) -> ProcessSpec:
    """A rooms shard: registers in the ``shards`` pool, like an app does in ``apps``."""
    from stateline.shards import POOL

    return ProcessSpec(
        id=instance_id, role="shard", argv=tuple(commands.shard(instance_id, port)),
        env=child_environ(settings.with_(pool=POOL), instance_id), port=port,
        log_path=settings.data_dir / "logs" / f"{instance_id}.log",
    )


def gateway_spec(commands: Commands, settings: Settings, port: int) -> ProcessSpec:
    """The gateway: one ``apps`` pool by flags, or (with shards) the two-pool config file.

    Its registry URL goes on argv (or in the config file) without credentials;
    those go in its env: ``ps`` shows every process's argv to every local
    user, the environment only to the process's owner.
    """
    registry = settings.registry_url or settings.redis_url or ""
    env = child_environ(settings)
    env.pop(PASSWORD_ENV, None)
    env.pop(USERNAME_ENV, None)
    user, password = credentials(registry)
    if password is not None:
        env[PASSWORD_ENV] = password
        if user:
            env[USERNAME_ENV] = user
    if settings.shards > 0:
        from stateline.local import gateway_toml
        from stateline.shards import POOL

        config = gateway_toml.write(
            settings.data_dir / "gateway.toml",
            gateway_toml.render(port, without_credentials(registry), settings.pool, POOL))
        argv = tuple(commands.gateway_config(port, config))
    else:
        argv = tuple(commands.gateway(port, without_credentials(registry), settings.pool))
    return ProcessSpec(
        id="gateway", role="gateway",
        argv=argv,
        env=env, port=port,
        log_path=settings.data_dir / "logs" / "gateway.log",
    )
