"""What every experiment shares: its context, its result, and how results are written.

An experiment is a function ``run(ctx) -> Result``. It starts what it needs,
measures, tears down, and returns plain data; :func:`write_result` lays it out
as ``OUT/NAME/data.json``, ``OUT/NAME/report.md`` and ``OUT/NAME/*.png``, which
is all that ``stateline report`` reads back.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Context:
    """How an experiment was asked to run."""

    out: Path
    quick: bool = False
    max_instances: int | None = None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))


@dataclass
class Result:
    """What an experiment hands back: data (JSON-able), a Markdown body, PNG plots."""

    name: str
    title: str
    data: dict[str, Any]
    #: The figures the comparison table quotes (short keys, plain numbers or strings).
    headline: dict[str, Any]
    markdown: str
    plots: dict[str, bytes] = field(default_factory=dict)
    #: plot file → one line saying what to see in it (under the image in both reports).
    captions: dict[str, str] = field(default_factory=dict)


#: What a reader must know about a ``--quick`` figure (each report says it where it applies).
QUICK_CAVEAT = ("Quick run (`--quick`): shorter load and fewer keys, so figures are noisier "
                "than a full run's; do not quote them as this machine's numbers.")


def cores() -> int:
    """The cores this process may run on (what bounds scaling here, not os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def redis_version() -> str:
    try:
        from stateline.local.redis_cluster import redis_server_binary

        out = subprocess.run([str(redis_server_binary()), "--version"], capture_output=True,
                             text=True, timeout=5, check=False).stdout
        for word in out.split():
            if word.startswith("v="):
                return word[2:]
    except (OSError, ImportError, subprocess.SubprocessError):
        pass
    return "unknown"


def machine() -> dict[str, Any]:
    """Where a figure was measured: it means little without this."""
    from stateline import __version__

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": cores(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis_server": redis_version(),
        "stateline": __version__,
    }


def write_result(result: Result, out: Path, quick: bool, started: float) -> Path:
    """Write ``out/NAME/{data.json,report.md,*.png}``; returns the folder."""
    folder = out / result.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    for name, png in result.plots.items():
        (folder / name).write_bytes(png)
    data = {
        "experiment": result.name,
        "title": result.title,
        "quick": quick,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "headline": result.headline,
        "plots": sorted(result.plots),
        "captions": {n: result.captions[n] for n in sorted(result.plots) if n in result.captions},
        **result.data,
    }
    (folder / "data.json").write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    images = "\n\n".join(f"![{n}]({n})" + (f"\n\n*{result.captions[n]}*"
                                              if n in result.captions else "")
                         for n in sorted(result.plots))
    m = data["machine"]
    (folder / "report.md").write_text(
        f"# {result.title}\n\n"
        f"{QUICK_CAVEAT if quick else 'Full run.'} Measured on {m['cpu']}, "
        f"{m['cores']} core(s), Python {m['python']}, redis-server {m['redis_server']}, "
        f"stateline {m['stateline']}; {data['finished_at']}. Raw figures: "
        f"[data.json](data.json).\n\n{result.markdown.strip()}\n\n{images}\n"
    )
    return folder


def read_result(out: Path, name: str) -> dict[str, Any] | None:
    """The data.json of an earlier run, or None."""
    path = out / name / "data.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (reports are built from these)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
