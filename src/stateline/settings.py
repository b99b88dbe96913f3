"""One settings object for every process stateline starts.

Precedence is flags > ``STATELINE_*`` environment variables > defaults. The
supervisor passes settings to the processes it starts through the environment,
so an app instance started by ``stateline up`` and one started by hand read
their configuration the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "STATELINE_"


def env_names() -> list[str]:
    """Every ``STATELINE_*`` variable :meth:`Settings.load` reads (for ``up --help``)."""
    return [ENV_PREFIX + f.name.upper() for f in fields(Settings)]


@dataclass(frozen=True)
class Settings:
    """Everything a stateline process needs to know to find its peers and stores."""

    #: Address to bind (listen on). Loopback by default: nothing is exposed unless asked.
    host: str = "127.0.0.1"
    #: Address others reach this process at (what an app registers); ``None`` means
    #: ``host``. Needed when ``host`` is a wildcard (``0.0.0.0``) or behind NAT.
    announce_host: str | None = None
    port: int = 8080
    apps: int = 3
    #: Shard processes of the rooms service (the stateful pool); 0 runs none.
    shards: int = 3
    data_dir: Path = field(default_factory=lambda: Path(".stateline"))
    #: SQL database URL. ``None`` means the embedded SQLite file in the data dir.
    database_url: str | None = None
    #: Redis URL. ``None`` means the embedded Redis Cluster started by ``stateline up``.
    redis_url: str | None = None
    #: Bearer token for the gateway's admin actions; admin actions are refused without one.
    admin_token: str | None = None
    #: The pool name app instances register under and the gateway routes ``/api/`` to.
    pool: str = "apps"
    #: Where an app instance registers itself (a Redis URL); ``None`` means no registration.
    registry_url: str | None = None
    #: Blob store URL: ``s3://BUCKET?endpoint=...`` or ``file:///path``. ``None`` means the
    #: embedded SeaweedFS under ``stateline up`` (the folder ``DATA_DIR/blobs`` elsewhere).
    blob_url: str | None = None
    #: Instance id shown in ``X-Served-By``; set per process by the supervisor.
    instance_id: str | None = None
    #: Most pixels one image request may decode (all frames together); more is 413.
    image_max_pixels: int = 25_000_000
    #: Image decodes one app instance runs at once (0: up to 4, one per core); more wait.
    image_workers: int = 0
    #: How long an app remembers an ``Idempotency-Key``'s outcome (Stripe keeps 24 h).
    idempotency_ttl_s: int = 86_400
    #: How long a claimed key whose attempt never finished blocks repeats (409)
    #: before a retry may run it: longer than a request can take.
    idempotency_lease_ms: int = 30_000

    @classmethod
    def load(cls, **flags: Any) -> Settings:
        """Build settings from flags (those not ``None``), then the environment, then defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            env = os.environ.get(ENV_PREFIX + f.name.upper())
            if env is not None and env != "":
                values[f.name] = env
            if flags.get(f.name) is not None:
                values[f.name] = flags[f.name]
        return cls()._coerced(values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (coerced like :meth:`load`)."""
        return self._coerced(changes)

    def _coerced(self, values: dict[str, Any]) -> Settings:
        out: dict[str, Any] = {}
        for name, value in values.items():
            current = getattr(self, name)
            if name == "data_dir":
                out[name] = Path(value)
            elif isinstance(current, int) and not isinstance(current, bool):
                out[name] = int(value)
            else:
                out[name] = value
        return replace(self, **out)

    @property
    def advertised_host(self) -> str:
        """The host part others should dial: ``announce_host``, else ``host``."""
        return self.announce_host or self.host

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "stateline.db"

    @property
    def effective_database_url(self) -> str:
        """The SQL URL to use: the configured one, or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def control_socket(self) -> Path:
        """The supervisor's control socket (``stateline status``/``scale``/``kill``/``down``)."""
        return self.data_dir / "control.sock"

    def environ(self) -> dict[str, str]:
        """These settings as ``STATELINE_*`` variables, for a child process."""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env
