"""Commands of ``stateline.app``: ``stateline app`` (one instance) and ``stateline rates load``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from stateline.settings import Settings


def _app_command(
    host: Annotated[str | None, typer.Option(
        help="Address to listen on (env STATELINE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(
        help="Port to listen on (env STATELINE_PORT).")] = None,
    announce_host: Annotated[str | None, typer.Option(
        help="Address to register, as other hosts reach this one; default: --host "
             "(env STATELINE_ANNOUNCE_HOST).")] = None,
    instance_id: Annotated[str | None, typer.Option(
        "--instance-id", help="Id shown in X-Instance-Id (env STATELINE_INSTANCE_ID).")] = None,
    redis_url: Annotated[str | None, typer.Option(
        help="Redis URL (env STATELINE_REDIS_URL).")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="SQL URL; default: SQLite in the data dir (env STATELINE_DATABASE_URL).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Data dir (env STATELINE_DATA_DIR).")] = None,
    registry_url: Annotated[str | None, typer.Option(
        help="Register here (a Redis URL) (env STATELINE_REGISTRY_URL).")] = None,
    pool: Annotated[str | None, typer.Option(
        help="Pool to register in (env STATELINE_POOL).")] = None,
    drain_grace: Annotated[float, typer.Option(
        min=0.6, envvar="STATELINE_DRAIN_GRACE_S",
        help="Seconds to keep serving after SIGTERM, while gateways stop sending work.")] = 1.0,
) -> None:
    """Run ONE stateless app instance (one process) until SIGTERM, then drain and exit 0."""
    from stateline.app.server import run

    settings = Settings.load(host=host, port=port, announce_host=announce_host,
                             instance_id=instance_id, redis_url=redis_url,
                             database_url=database_url, data_dir=data_dir,
                             registry_url=registry_url, pool=pool)
    if not settings.redis_url:
        typer.echo("stateline app: set STATELINE_REDIS_URL or --redis-url "
                   "(stateline up does this for its instances)", err=True)
        raise typer.Exit(2)
    if settings.database_url and (problem := _database_problem(settings.database_url)):
        typer.echo(f"stateline app: {problem}", err=True)
        raise typer.Exit(2)
    ident = settings.instance_id or f"{settings.advertised_host}:{settings.port}"
    raise typer.Exit(run(settings, ident, drain_grace))


rates = typer.Typer(help="The currency converter's reference rates (kept in SQL).",
                    no_args_is_help=True)


@rates.command("load")
def _rates_load(
    file: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False,
        help="ECB CSV: daily eurofxref.csv, or the historical file (.csv or .zip).")],
    database_url: Annotated[str | None, typer.Option(
        help="SQL URL; default: SQLite in the data dir (env STATELINE_DATABASE_URL).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Data dir (env STATELINE_DATA_DIR).")] = None,
) -> None:
    """Replace the rates in SQL with the newest day in FILE, and print what was loaded."""
    from stateline.app.rates import RatesFormatError, read_ecb_file
    from stateline.stores import sql

    settings = Settings.load(database_url=database_url, data_dir=data_dir)
    try:
        snapshot = read_ecb_file(file)
    except (RatesFormatError, UnicodeDecodeError, OSError) as exc:
        typer.echo(f"stateline rates load: {file}: {exc}", err=True)
        raise typer.Exit(1) from None
    if settings.database_url and (problem := _database_problem(settings.database_url)):
        typer.echo(f"stateline rates load: {problem}", err=True)
        raise typer.Exit(1)

    async def load() -> None:
        engine = sql.create_engine(settings.effective_database_url,
                                   create_dir=settings.database_url is None)
        try:
            await sql.ensure_schema(engine)
            await sql.replace_rates(engine, snapshot.rates, snapshot.as_of)
        finally:
            await engine.dispose()

    asyncio.run(load())
    listed = ", ".join(f"{c} {r}" for c, r in sorted(snapshot.rates.items()))
    typer.echo(f"loaded {len(snapshot.rates)} rates as of {snapshot.as_of.isoformat()} "
               f"(EUR = 1) into {_redact(settings.effective_database_url)}")
    typer.echo(listed)


def _database_problem(url: str) -> str | None:
    """Why ``url`` cannot be used (not a database URL, a SQLite dir that is missing), or None."""
    from stateline.stores import sql

    try:
        return sql.sqlite_problem(url)
    except ValueError as exc:
        return str(exc)


def _redact(url: str) -> str:
    """The URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        auth, _, host = rest.partition("@")
        user = auth.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in auth else url
    return url


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the ``stateline`` command."""
    app.command("app")(_app_command)
    app.add_typer(rates, name="rates")
