"""The one entry point: ``stateline <command>``.

Each package owns its commands in its own ``commands.py`` and exposes
``register(app)``; this module only assembles them, so that a subcommand's
imports (Pillow, matplotlib, the gateway's event loop) are paid by that
subcommand alone. `stateline lint` goes further: `main` hands it to a lean
argparse command before typer itself is imported, so that it starts fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

COMMAND_MODULES = (
    "stateline.local.commands",  # up, status, scale, kill, restart, down
    "stateline.gateway.commands",  # gateway
    "stateline.app.commands",  # app, rates
    "stateline.shards.commands",  # shard
    "stateline.lint.commands",  # lint
    "stateline.verify.commands",  # verify
    "stateline.lab.commands",  # bench, experiment, report
    "stateline.lab.hosts_commands",  # hosts list, hosts clean
)


_app: typer.Typer | None = None
_registered = False


def _typer_app() -> typer.Typer:
    """The one typer app (commands not yet registered); typer is imported here."""
    global _app
    if _app is not None:
        return _app
    import typer
    import typer.core

    class _Group(typer.core.TyperGroup):
        """The root command as typer builds it, with :func:`plain_metavars` applied."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            plain_metavars(self)

        def get_params(self, ctx: Any) -> list[Any]:
            # typer adds --install-completion / --show-completion after __init__
            params = super().get_params(ctx)
            for param in params:
                _plain_metavar(param)
            return params

    app = typer.Typer(
        name="stateline",
        cls=_Group,
        help=(
            "Stateless app servers behind a gateway, with all state pushed down into a "
            "Redis Cluster, a SQL database and a blob store. Start everything with "
            "`stateline up`; measure it with `stateline bench` and `stateline experiment`; "
            "find accidental state in your own code with `stateline lint`."
        ),
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion [SHELL]
        pretty_exceptions_enable=False,
    )

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

    _app = app
    return app


def _register_all() -> None:
    """Register every package's commands on the app (once)."""
    global _registered
    if not _registered:
        app = _typer_app()
        for name in COMMAND_MODULES:
            importlib.import_module(name).register(app)
        _registered = True


def _plain_metavar(param: Any) -> None:
    # duck-typed: typer 0.29 vendors its own click (typer._click), not the click package
    kind = getattr(param, "param_type_name", "")
    if kind == "option" and param.metavar is None:
        param.metavar = "" if param.is_flag or param.count else param.name.upper()
    elif kind == "argument":
        # its name (PATH...) is already shown; the type column would add <list[Path]>
        param.display_type_rich = lambda ctx: None


def plain_metavars(command: Any) -> None:
    """Drop typer's type tags (``<bool>``, ``<int>``, ``<list[str]>``) from every --help.

    A flag takes no value, so it shows none; an option shows its name (``--port
    PORT``), as click and most CLIs do; an argument shows only its name; an explicit
    ``metavar=`` is kept.
    """
    for param in command.params:
        _plain_metavar(param)
    shown_help = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = shown_help(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


def build_app() -> typer.Typer:
    """The typer app with every package's commands registered."""
    _register_all()
    return _typer_app()


def __getattr__(name: str) -> object:
    """`stateline.cli.app` is built on first use, so importing this module (the
    console script does) costs nothing for `stateline lint`."""
    if name == "app":
        return _typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    if sys.argv[1:2] == ["lint"]:  # lean path: no typer, no rich (start-up budget)
        from stateline.lint.argv import main as lint_main

        raise SystemExit(lint_main(sys.argv[2:]))
    build_app()()


if __name__ == "__main__":
    main()
