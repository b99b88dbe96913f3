"""Lines per second of `stateline lint` on real installed code (one process, one core).

    .venv/bin/python bench/lint_speed.py [PACKAGE ...]

Defaults to packages in the venv's site-packages: sqlalchemy, starlette, fastapi,
flask, django and rest_framework where installed. Prints lines, files, seconds,
lines/s and findings per package and in total. Timing is wall-clock on a shared
machine: rerun on an idle one before quoting figures.
"""

from __future__ import annotations

import ast
import contextlib
import sys
import sysconfig
import time
from pathlib import Path

from stateline.lint import lint
from stateline.lint.source import discover

DEFAULT = ("sqlalchemy", "starlette", "fastapi", "flask", "django", "rest_framework", "aiohttp")


def main() -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    names = sys.argv[1:] or [n for n in DEFAULT if (site / n).is_dir()]
    total_lines = total_files = total_findings = 0
    total_s = 0.0
    print(f"{'package':16} {'files':>6} {'lines':>9} {'seconds':>8} {'lines/s':>9} {'findings':>8}")
    for name in names:
        path = site / name
        if not path.exists():
            print(f"{name:16} (not installed)")
            continue
        t0 = time.perf_counter()
        result = lint([path])
        dt = time.perf_counter() - t0
        total_lines += result.lines
        total_files += result.files
        total_findings += len(result.findings)
        total_s += dt
        print(f"{name:16} {result.files:6d} {result.lines:9d} {dt:8.2f} "
              f"{result.lines / dt:9.0f} {len(result.findings):8d}")
    if total_s:
        print(f"{'total':16} {total_files:6d} {total_lines:9d} {total_s:8.2f} "
              f"{total_lines / total_s:9.0f} {total_findings:8d}")
        # Baseline on the same files: reading + ast.parse alone, the floor of any
        # parse-based checker on this machine right now.
        t0 = time.perf_counter()
        for name in names:
            if (site / name).exists():
                for f in discover([site / name]):
                    with contextlib.suppress(SyntaxError, ValueError):
                        ast.parse(f.read_bytes())
        dt = time.perf_counter() - t0
        print(f"{'parse only':16} {'':6} {total_lines:9d} {dt:8.2f} {total_lines / dt:9.0f}")


if __name__ == "__main__":
    main()
