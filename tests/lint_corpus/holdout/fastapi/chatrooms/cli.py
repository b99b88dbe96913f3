"""Admin command line: run by operators, never reached by a route."""

import typer

from rooms import HISTORY, ROOM_SOCKETS

cli = typer.Typer()


@cli.command()
def purge(room: str) -> None:
    HISTORY.pop(room, None)  # trap: CLI command
    ROOM_SOCKETS.pop(room, None)  # trap: CLI command
    typer.echo(f"purged {room}")


if __name__ == "__main__":
    cli()
