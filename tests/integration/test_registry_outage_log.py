"""A gateway whose registry is unreachable says where it is, once, and backs off.

The sample configuration of docs/gateway.md (``registry_interval = 0.25``,
``redis_url`` on a port where nothing listens) used to log the same line four
times a second with no address. The count asserted here holds however slowly
the machine runs: a slower machine polls less, never more, and the policy
allows one line per 30 s of outage.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from stateline.local.procs import free_port, port_is_free, wait_port


def test_an_unreachable_registry_is_logged_once_with_its_address(tmp_path: Path) -> None:
    dead = free_port()
    assert port_is_free(dead)
    listen = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nlisten = "127.0.0.1:{listen}"\n'
                      f'redis_url = "redis://127.0.0.1:{dead}/0"\nregistry_interval = 0.25\n\n'
                      '[pools.apps]\nregistry = "apps"\n')
    log = tmp_path / "gateway.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "stateline", "gateway", "--config",
                                 str(config)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_port(listen, 60)
        deadline = time.monotonic() + 60  # a hang guard, not the thing asserted
        while "registry poll" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        time.sleep(2.5)  # ten polls' worth at the configured interval
        outage_s = time.monotonic() - started + 60
    finally:
        proc.terminate()
        proc.wait(20)
    lines = [line for line in log.read_text().splitlines() if "registry poll" in line]
    assert lines, log.read_text()
    assert f"127.0.0.1:{dead}" in lines[0]
    assert len(lines) <= 1 + int(outage_s // 30), lines
