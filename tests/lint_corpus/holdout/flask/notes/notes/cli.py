import click

from . import notes

SEEDED: list[str] = []


@click.command("seed")
@click.argument("count", default=10)
def seed_command(count):
    """Fill the tag index with demo data (run by hand, never by a request)."""
    for i in range(count):
        notes.TAG_INDEX["demo"].add(i)  # trap: CLI command, no route reaches it
        SEEDED.append(f"note-{i}")  # trap: CLI only
    click.echo(f"seeded {count}")
