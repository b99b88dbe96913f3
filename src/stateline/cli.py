"""The one entry point: ``stateline <command>``.

Each package owns its commands in its own ``commands.py`` and exposes
``register(app)``; this module only assembles them, so that a subcommand's
imports (Pillow, matplotlib, the gateway's event loop) are paid by that
subcommand alone.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "stateline.local.commands",  # up, status, scale, kill, restart, down
    "stateline.gateway.commands",  # gateway
    "stateline.app.commands",  # app, rates
    "stateline.lint.commands",  # lint
    "stateline.lint.verify_commands",  # verify
    "stateline.lab.commands",  # bench, experiment, report
    "stateline.lab.hosts_commands",  # hosts list, hosts clean
)

app = typer.Typer(
    name="stateline",
    help=(
        "Stateless app servers behind a gateway, with all state pushed down into a "
        "Redis Cluster, a SQL database and a blob store. Start everything with "
        "`stateline up`; measure it with `stateline bench` and `stateline experiment`; "
        "find accidental state in your own code with `stateline lint`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


def _print_version(value: bool) -> None:
    if value:
        from stateline import __version__

        typer.echo(f"stateline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,  # answered before typer insists on a subcommand
    ),
) -> None:
    """Stateless app servers behind a gateway; state lives in Redis Cluster, SQL and blobs."""


def main() -> None:
    _register_all()
    app()


if __name__ == "__main__":
    main()
