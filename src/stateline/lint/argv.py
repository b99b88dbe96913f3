"""`stateline lint PATH...` on a lean command line: argparse, no typer, no rich.

`stateline.cli.main` hands `lint` here before it imports typer, so the command
pays only for the analyser itself (start-up ≤ 0.15 s is a target of
bench/lint_speed.py). The typer command in commands.py only lists `lint` in
`stateline --help` and delegates to `run` below, so both paths behave alike.

Exit status: 1 when an error-severity finding is reported, 0 otherwise, 2 on
usage errors (unknown path, rule or format).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

FORMATS = ("text", "json", "sarif")
DESCRIPTION = "Find state kept in the process that request handling writes (parse only)."
EPILOG = ("Exit status: 1 when an error-severity finding is reported, 0 otherwise, 2 on "
          "usage errors (unknown path or rule, bad format). Docs: docs/lint.md.")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stateline lint", description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("paths", nargs="+", metavar="PATH", help="Files or folders to analyse.")
    p.add_argument("--format", "-f", dest="fmt", default="text", metavar="FORMAT",
                   help="text | json | sarif (default: text)")
    p.add_argument("--select", action="append", default=[], metavar="RULES",
                   help="Only these rules (ids or names, comma-separated or repeated).")
    p.add_argument("--ignore", action="append", default=[], metavar="RULES",
                   help="Skip these rules (ids or names).")
    return p


class _Progress:
    """A one-line counter on stderr for large trees, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if total < 200 or (done % 50 and done != total):
            return
        self.shown = True
        sys.stderr.write(f"\rparsing {done}/{total} files")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def run(paths: Sequence[str | Path], fmt: str = "text", select: Sequence[str] = (),
        ignore: Sequence[str] = ()) -> int:
    """Lint `paths`, print the report to stdout and return the exit status."""
    from stateline.lint import lint
    from stateline.lint.report import print_text, to_json, to_sarif
    from stateline.lint.rules import UnknownRuleError
    from stateline.lint.source import PathError

    if fmt not in FORMATS:
        sys.stderr.write(f"error: unknown format {fmt!r} (text, json, sarif)\n")
        return 2
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        result = lint(paths, select=select, ignore=ignore, progress=progress)
    except (UnknownRuleError, PathError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        if progress is not None:
            progress.close()
    out = sys.stdout
    if fmt == "json":
        out.write(to_json(result.findings, result.notes) + "\n")
    elif fmt == "sarif":
        out.write(to_sarif(result.findings) + "\n")
    else:
        colour = out.isatty() and "NO_COLOR" not in os.environ
        print_text(result.findings, out.write, result.files, result.lines,
                   len(result.suppressed), colour=colour, notes=result.notes)
    out.flush()
    return 1 if any(f.severity == "error" for f in result.findings) else 0


def main(argv: Sequence[str]) -> int:
    """`stateline lint ARGS`: parse `argv` (without the `lint`) and run."""
    args = parser().parse_args(list(argv))
    return run(args.paths, args.fmt, args.select, args.ignore)
