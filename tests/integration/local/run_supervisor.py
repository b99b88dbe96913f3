"""Run the real supervisor with stand-in app and gateway processes (see standin.py).

Usage: python run_supervisor.py DATA_DIR PORT APPS [SHARDS]. SHARDS defaults
to 0 (no rooms pool), so the process table is the apps and the gateway. Stores come from the
environment exactly as for ``stateline up`` (STATELINE_REDIS_URL or the
embedded cluster).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from stateline.local.restart_policy import BackoffConfig
from stateline.local.supervisor import Supervisor
from stateline.settings import Settings

STANDIN = str(Path(__file__).with_name("standin.py"))


@dataclass(frozen=True)
class StandinCommands:
    def app(self, instance_id: str, port: int) -> list[str]:
        return [sys.executable, STANDIN, "--port", str(port), "--id", instance_id]

    def gateway(self, port: int, registry_url: str, pool: str) -> list[str]:
        return [sys.executable, STANDIN, "--port", str(port), "--id", "gateway"]

    def gateway_config(self, port: int, config: Path) -> list[str]:
        return [sys.executable, STANDIN, "--port", str(port), "--id", "gateway"]

    def shard(self, instance_id: str, port: int) -> list[str]:
        return [sys.executable, STANDIN, "--port", str(port), "--id", instance_id]


if __name__ == "__main__":
    data_dir, port, apps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    shards = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    settings = Settings.load(data_dir=Path(data_dir), port=port, apps=apps, shards=shards)
    backoff = BackoffConfig(initial_delay=0.1, max_delay=0.5, stable_after=5.0,
                            max_quick_crashes=4)
    sys.exit(Supervisor(settings, commands=StandinCommands(), backoff=backoff,
                        drain_timeout=3.0, stuck_after=1.5).run())
