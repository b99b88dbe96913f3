"""The test helper the lint class tests share: lint a small tree, compare with its marks.

Each case is a small tree written by a test (never code from real services). Lines
that must be reported end with `# !SLxxx`; every other line must stay silent, so
each test pins both the finding and the absence of new noise.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from stateline.lint import lint

MARK = re.compile(r"#\s*!(SL\d{3})")


def check(tmp_path: Path, files: dict[str, str]) -> list[str]:
    """Write `files`, lint the tree, and compare findings with the `# !SLxxx` marks."""
    want: set[str] = set()
    for rel, code in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(code).lstrip("\n")
        path.write_text(text)
        for i, line in enumerate(text.splitlines(), start=1):
            m = MARK.search(line)
            if m:
                want.add(f"{rel}:{i} {m.group(1)}")
    result = lint([tmp_path], cwd=tmp_path)
    got = {f"{f.path}:{f.line} {f.rule}" for f in result.findings}
    assert got == want, (sorted(got - want), sorted(want - got))
    return [f.message for f in result.findings]
