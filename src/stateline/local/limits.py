"""What a user may ask of ``stateline up`` and ``stateline scale``, checked before anything starts.

A bad value must fail at once with one line that says what is allowed. Checked
late, it failed late and badly: ``--port 70000`` surfaced as an OverflowError
traceback only after the whole Redis Cluster had started and stopped again, and
``--port 0`` made the gateway listen on a port the kernel picked, which the
start-up health check then never found. The checks are pure (a value in, a
sentence or ``None`` out) so the CLI, the control socket and the tests share
them.
"""

from __future__ import annotations

MIN_APPS = 1
#: Each instance is a full Python process; more than this on one machine is a typo.
MAX_APPS = 64
#: Shards of the rooms service; 0 means no rooms pool.
MIN_SHARDS = 0
MAX_SHARDS = 16
MIN_PORT = 1
MAX_PORT = 65535


def apps_problem(apps: int, name: str = "apps") -> str | None:
    """Why ``apps`` is not an allowed number of app instances, or ``None`` if it is."""
    if apps < MIN_APPS:
        return f"{name} must be ≥ {MIN_APPS} (got {apps})"
    if apps > MAX_APPS:
        return f"{name} must be ≤ {MAX_APPS} on one machine (got {apps})"
    return None


def shards_problem(shards: int, name: str = "shards") -> str | None:
    """Why ``shards`` is not an allowed number of rooms shards, or ``None`` if it is."""
    if not MIN_SHARDS <= shards <= MAX_SHARDS:
        return f"{name} must be from {MIN_SHARDS} to {MAX_SHARDS} (got {shards})"
    return None


def port_problem(port: int, name: str = "--port") -> str | None:
    """Why ``port`` is not a TCP port the gateway can be told to listen on, or ``None``.

    0 is refused too: it means "any free port", and a gateway whose address
    nobody knows in advance is of no use to the user or the health check.
    """
    if not MIN_PORT <= port <= MAX_PORT:
        return f"{name} must be from {MIN_PORT} to {MAX_PORT} (got {port})"
    return None
