"""Telling Python 2 source from a Python 3 syntax error.

A 2011 Django project full of `print "x"` and `except ValueError, e:` is not
broken Python 3: it is Python 2, which stateline does not analyse. Reporting
SL001 on each of its files buries everything else in noise that is not about
state, so such files are recognised here and summed up in one project-level
note instead. Only constructs that Python 3 never accepts count as evidence;
`except A, B:` (a PEP 758 tuple, valid in 3.14) does not.
"""

from __future__ import annotations

import re

_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("print statement", re.compile(
        r"^[ \t]*print[ \t]+(?![ \t]*[=(\[.,)]|[ \t]*$)[\"'\w%>]", re.MULTILINE)),
    ("exec statement", re.compile(r"^[ \t]*exec[ \t]+[\"'\w]", re.MULTILINE)),
    # `except ValueError, e:`: a lower-case last name is a binding, not a class
    ("`except E, e:`", re.compile(
        r"^[ \t]*except[ \t]+[\w.]+[ \t]*,[ \t]*[a-z_]\w*[ \t]*:", re.MULTILINE)),
    ("`raise E, message`", re.compile(r"^[ \t]*raise[ \t]+[\w.]+[ \t]*,[ \t]*\S",
                                      re.MULTILINE)),
    ("`ur''` literal", re.compile(r"(?<![\w.])[uU][rR][\"']")),
    ("backtick repr", re.compile(r"^[^#\"'\n]*`[^`\n]+`", re.MULTILINE)),
    ("`<>` operator", re.compile(r"^[^#\"'\n]*\w[ \t]*<>[ \t]*\w", re.MULTILINE)),
)


def python2_features(text: str, message: str = "") -> tuple[str, ...]:
    """The Python 2-only constructs in `text` (a file that did not parse as Python 3).
    `message` is the SyntaxError's text, which names print/exec statements itself."""
    found = [name for name, rx in _MARKERS if rx.search(text)]
    if "Missing parentheses in call to 'print'" in message and "print statement" not in found:
        found.insert(0, "print statement")
    if "Missing parentheses in call to 'exec'" in message and "exec statement" not in found:
        found.insert(0, "exec statement")
    if "leading zeros in decimal integer literals" in message:
        found.append("octal literal `0777`")
    return tuple(found)
