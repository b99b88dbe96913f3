"""``stateline shard``: run one shard of the rooms service (``stateline up`` starts a pool)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stateline.settings import Settings


def shard(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    instance_id: Annotated[str | None, typer.Option(
        "--instance-id", help="Shard id, e.g. shard-1 (its registry id and rendezvous member).")
    ] = None,
    redis_url: Annotated[str | None, typer.Option(
        help="Redis URL: leases, logs, registry (env STATELINE_REDIS_URL).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Data dir; snapshots go to its blob store (env STATELINE_DATA_DIR).")] = None,
) -> None:
    """Run ONE shard: rooms in memory, leased in Redis, logged before acknowledged."""
    from stateline.shards.server import run

    settings = Settings.load(host=host, port=port, instance_id=instance_id,
                             redis_url=redis_url, data_dir=data_dir)
    if not settings.redis_url:
        typer.echo("stateline shard: set STATELINE_REDIS_URL or --redis-url", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run(settings, settings.instance_id or f"{settings.host}:{settings.port}"))


def register(app: typer.Typer) -> None:
    """Add ``stateline shard`` to the ``stateline`` command."""
    app.command("shard")(shard)
