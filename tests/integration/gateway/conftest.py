"""Fixtures for the gateway's integration tests: misbehaving backends and the gateway itself.

Backends are ``backend.py`` in this folder (plain asyncio, independent of the
gateway's code); the gateway is started as a user would, ``python -m
stateline gateway ...``. Every process listens on 127.0.0.1 on a free port and
is stopped when its test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from gwtest import HERE, TOKEN, Proc, free_port, wait_port


@pytest.fixture(scope="module")
def backends() -> Iterator[Callable[..., Proc]]:
    """Start backends: ``backends()`` → Proc (id defaults to host:port); stopped with the module."""
    started: list[Proc] = []

    def start(instance: str | None = None, port: int | None = None) -> Proc:
        port = port or free_port()
        args = [sys.executable, str(HERE / "backend.py"), str(port)]
        if instance:
            args.append(instance)
        p = Proc(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                 port)
        started.append(p)
        wait_port(port)
        return p

    yield start
    for p in started:
        p.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Proc]]:
    """Start a gateway: ``gateway(config_toml=...)`` or ``gateway(args=[...])``; module-scoped."""
    tmp_path = tmp_path_factory.mktemp("gateway")
    stateline_cmd = [sys.executable, "-m", "stateline"]
    started: list[Proc] = []

    def start(config_toml: str | None = None, args: list[str] | None = None,
              token: str | None = TOKEN, port: int | None = None) -> Proc:
        port = port or free_port()
        cmd = [*stateline_cmd, "gateway", "--listen", f"127.0.0.1:{port}"]
        if config_toml is not None:
            cfg = tmp_path / f"gateway-{port}.toml"
            cfg.write_text(config_toml)
            cmd += ["--config", str(cfg)]
        cmd += args or []
        env = {k: v for k, v in os.environ.items() if k != "STATELINE_ADMIN_TOKEN"}
        if token:
            env["STATELINE_ADMIN_TOKEN"] = token
        log = tmp_path / f"gateway-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        p = Proc(proc, port, log)
        started.append(p)
        wait_port(port)
        return p

    yield start
    for p in started:
        p.stop()


