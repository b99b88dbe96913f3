"""Find accidental state in Python web services.

`lint` is static: it parses (never imports) the code, finds request entry
points per framework, and reports writes to process-lifetime state reachable
from them. `stateline verify` (the `stateline.verify` package) is its dynamic twin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from stateline.lint.checker import Result, analyse
from stateline.lint.model import Finding
from stateline.lint.rules import active_rules

__all__ = ["Finding", "Result", "lint"]


def lint(paths: Iterable[str | Path], select: Iterable[str] = (), ignore: Iterable[str] = (),
         cwd: Path | None = None,
         progress: Callable[[int, int], None] | None = None) -> Result:
    """Analyse `paths` and keep the findings of the selected rules.

    Raises `stateline.lint.rules.UnknownRuleError` for an unknown rule and
    `stateline.lint.source.PathError` for a missing path (both usage errors).
    """
    rules = active_rules(select, ignore)
    result = analyse(paths, cwd=cwd, progress=progress)
    result.findings = [f for f in result.findings if f.rule in rules]
    return result
