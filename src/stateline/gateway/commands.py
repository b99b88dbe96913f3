"""``stateline gateway``: the command line of the data plane.

Forms kept stable for users and for ``stateline up``::

    stateline gateway --listen HOST:PORT --backend URL [--backend URL ...]
    stateline gateway --config FILE [--listen HOST:PORT] [--workers N]
    stateline gateway --listen HOST:PORT --registry REDIS_URL [--pool NAME]

The admin token comes from ``STATELINE_ADMIN_TOKEN`` (never a flag: flags
show up in ``ps``).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from stateline.settings import Settings


def gateway(
    listen: Annotated[str | None, typer.Option(
        "--listen", help="HOST:PORT to listen on (default 127.0.0.1:8080, or the config's).")
    ] = None,
    backend: Annotated[list[str] | None, typer.Option(
        "--backend", help="Backend URL http://HOST:PORT (repeat for more); every path goes "
        "to them round robin.")] = None,
    config: Annotated[str | None, typer.Option(
        "--config", help="TOML file with routes and pools (see docs/gateway.md).")] = None,
    registry: Annotated[str | None, typer.Option(
        "--registry", help="Redis URL of the registry: members of --pool come from it.")
    ] = None,
    pool: Annotated[str, typer.Option(
        "--pool", help="Registry pool to route every path to.")] = "apps",
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Processes sharing the port (SO_REUSEPORT).")] = None,
    max_client_connections: Annotated[int | None, typer.Option(
        "--max-client-connections", min=1,
        help="Open client connections past which new ones are refused (default: from the "
        "open-files limit, keeping room for upstream connections).")] = None,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the gateway: the stateless edge in front of the app instances."""
    from stateline.gateway import config as cfgmod

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s gateway[%(process)d] %(levelname)s %(message)s")
    settings = Settings.load()
    try:
        if config:
            cfg = cfgmod.load_file(config)
            if backend or registry:
                raise cfgmod.ConfigError("--config cannot be combined with --backend/--registry")
            if listen:
                cfg = cfg.with_(listen=cfgmod.parse_listen(listen))
        else:
            cfg = cfgmod.from_flags(listen=listen or "127.0.0.1:8080", backends=backend or [],
                                    registry_url=registry, pool=pool)
    except cfgmod.ConfigError as exc:
        typer.echo(f"stateline gateway: {exc}", err=True)
        raise typer.Exit(2) from None
    changes: dict[str, object] = {"admin_token": settings.admin_token}
    if workers:
        changes["workers"] = workers
    if max_client_connections:
        changes["max_client_connections"] = max_client_connections
    cfg = cfg.with_(**changes)
    if cfg.workers > 1:
        from stateline.gateway.workers import supervise

        raise typer.Exit(supervise(cfg))
    from stateline.gateway.server import run

    try:
        run(cfg)
    except OSError as exc:
        typer.echo(f"stateline gateway: cannot listen on {cfg.listen[0]}:{cfg.listen[1]}: {exc}",
                   err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add ``stateline gateway`` to the ``stateline`` command."""
    app.command("gateway")(gateway)
