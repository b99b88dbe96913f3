"""Newer-Python syntax read on an older interpreter: never an SL001 finding.

Each construct gets a minimal file with a real finding after it; the finding
must still be reported, the file must not become a syntax error, and a note
(never a finding) says which Python the file needs when this interpreter
could not parse it natively.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from stateline.lint import lint
from stateline.lint.compat import rewrite

TAIL = '''
from flask import Flask
app = Flask(__name__)
HITS = {}

@app.route("/hit/<k>")
def hit(k):
    HITS[k] = 1
    return "ok"
'''

CASES = {
    "except-comma": ("3.14", '''
        def f():
            try:
                pass
            except ValueError, TypeError:
                pass
        '''),
    "generic-def": ("3.12", '''
        def first[T](xs: list[T]) -> T:
            return xs[0]
        '''),
    "generic-class": ("3.12", '''
        class Box[T: (int, str)]:
            def get[U](self, u: U) -> T: ...
        '''),
    "type-default": ("3.13", '''
        class Box[T = int]:
            pass
        '''),
    "type-alias": ("3.12", '''
        type Pair[T] = tuple[T, T]
        type Name = str
        '''),
    "fstring-nested-quotes": ("3.12", '''
        def g(user):
            return f"{user["name"]} {"\\n".join(user)}"
        '''),
    "fstring-multiline-comment": ("3.12", '''
        def h(x):
            return f"""{
                x  # the value
            }"""
        '''),
    "t-string": ("3.14", '''
        def t(x):
            return t"hello {x}"
        '''),
}


def _native(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_newer_syntax_is_analysed_not_a_syntax_error(tmp_path: Path, name: str) -> None:
    needs, head = CASES[name]
    code = textwrap.dedent(head) + TAIL
    (tmp_path / "app.py").write_text(code)
    result = lint([tmp_path], cwd=tmp_path)
    assert [f.rule for f in result.findings] == ["SL102"], result.findings
    line = code.splitlines().index("    HITS[k] = 1") + 1
    assert result.findings[0].line == line  # lines kept by the rewrite
    if _native(code):
        assert result.notes == []
    else:
        assert len(result.notes) == 1
        assert result.notes[0].needs == needs
        assert "analysed through a compatibility rewrite" in result.notes[0].message


def test_rewrite_keeps_lines_and_names_the_newest_version() -> None:
    code = "".join(textwrap.dedent(h) for _, h in CASES.values())
    rw = rewrite(code)
    assert rw.needs == "3.14"
    assert rw.text.count("\n") == code.count("\n")
    ast.parse(rw.text)


def test_a_real_syntax_error_is_still_sl001(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def f(:\n    pass\n")
    result = lint([tmp_path], cwd=tmp_path)
    assert [f.rule for f in result.findings] == ["SL001"]
    assert result.notes == []


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 parses PEP 695 natively")
def test_newer_syntax_that_still_fails_is_a_note_not_a_finding(tmp_path: Path) -> None:
    # A type statement (3.12) next to a construct the rewrite does not cover:
    # the user is told which Python parses it, and the exit status is not affected.
    (tmp_path / "new.py").write_text("type X = int\nmatch = lambda: (yield)\ndef f(:\n  pass\n")
    result = lint([tmp_path], cwd=tmp_path)
    assert result.findings == []
    assert result.notes[0].needs == "3.12"
    assert "not analysed" in result.notes[0].message


def test_python2_except_binding_is_not_read_as_pep_758(tmp_path: Path) -> None:
    """`except ValueError, e:` is Python 2 (`as e`), not 3.14 syntax: the file is not
    analysed, and that is said once in a Python 2 note, never as a finding."""
    (tmp_path / "old.py").write_text("try:\n    pass\nexcept ValueError, e:\n    pass\n")
    result = lint([tmp_path], cwd=tmp_path)
    assert result.findings == []
    assert [(n.path, n.needs) for n in result.notes] == [("old.py", "2")]
    assert rewrite("try:\n    pass\nexcept ValueError, TypeError:\n    pass\n").needs == "3.14"
