"""``stateline hosts list|clean``: what the host topology (network namespaces) left here.

A run removes its namespaces itself on exit, on Ctrl-C and on SIGTERM, and
the next run removes what a killed one left; these commands let a user see
and do the same by hand without remembering ``ip netns`` spellings.
"""

from __future__ import annotations

import typer

hosts_app = typer.Typer(help="Network namespaces of the lab's host topology (needs root).",
                        no_args_is_help=True)


def _need_root() -> None:
    from stateline.lab.netns import unavailable

    if why := unavailable():
        typer.echo(f"stateline hosts: {why}", err=True)
        raise typer.Exit(2)


@hosts_app.command("list")
def _list() -> None:
    """Every namespace and link of ours, its owner pid and whether that owner still runs."""
    _need_root()
    from stateline.lab import hosts as plan_mod
    from stateline.lab.netns import our_links, our_namespaces, owner_alive, pids_in

    rows = [(n, plan_mod.owner_of_netns(n), len(pids_in(n))) for n in our_namespaces()]
    rows += [(n, plan_mod.owner_of_link(n), 0) for n in our_links()]
    if not rows:
        typer.echo("no stateline namespaces or links")
        return
    for name, pid, procs in rows:
        state = "running" if pid is not None and owner_alive(pid) else "stale"
        typer.echo(f"{name}\towner {pid} ({state})\t{procs} process(es)")


@hosts_app.command("clean")
def _clean() -> None:
    """Remove what killed runs left (owner gone): their processes, namespaces, links."""
    _need_root()
    from stateline.lab.netns import remove_stale

    removed = remove_stale()
    typer.echo("removed: " + ", ".join(removed) if removed else "nothing stale")


def register(app: typer.Typer) -> None:
    app.add_typer(hosts_app, name="hosts")
