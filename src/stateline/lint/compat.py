"""Reading newer-Python syntax on an older interpreter: a column-keeping rewrite.

stateline runs on Python ≥ 3.11 and parses with the running interpreter's
`ast`, which cannot represent syntax added later. A project that targets 3.12–
3.14 must not see its files turned into "syntax errors" for that, so when a file
fails to parse, this module rewrites the newer constructs into 3.11 syntax that
means the same thing *to the analyser* and keeps every line (and, except on the
rewritten spans, every column) where it was:

- PEP 695 / 696 type parameters (3.12 / 3.13): `def f[T](x)` → `def f   (x)`,
  `class C[T: int = str]:` → `class C             :`;
- PEP 695 `type X[T] = ...` (3.12) → `X = ...` with the right-hand side in place;
- PEP 701 f-strings (3.12: nested quotes, backslashes, comments, line breaks in
  the `{}` parts) and PEP 750 t-strings (3.14) → a plain string of the same
  length (their expressions are not analysed: what a format string computes is
  never request state);
- PEP 758 `except A, B:` (3.14) → `except (A, B):`.

`rewrite` reports the newest Python the file needs. If the rewrite does not
parse either, the checker reports "needs Python ≥ 3.X to parse" as a note (not
a finding) when a newer construct was seen, and SL001 otherwise. The rewrite
runs only on files that failed to parse, so it costs nothing on the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PREFIX = re.compile(r"(?i)(?<![\w.])(rb|br|fr|rf|tr|rt|[rbuft])?('''|\"\"\"|'|\")")
_DEF_PARAMS = re.compile(r"^([ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+)\[", re.MULTILINE)
_TYPE_ALIAS = re.compile(r"^([ \t]*)type[ \t]+(\w+)[ \t]*(\[)?", re.MULTILINE)
_EXCEPT = re.compile(r"^([ \t]*except\*?)[ \t]+(?!\()([^:\n#()]*,[^:\n#]*?)[ \t]*:",
                     re.MULTILINE)


@dataclass
class Rewrite:
    text: str
    features: dict[str, str] = field(default_factory=dict)  # feature → Python version

    @property
    def needs(self) -> str:
        """The newest Python version among the constructs rewritten ("" if none)."""
        return max(self.features.values(), key=lambda v: tuple(map(int, v.split("."))),
                   default="")


def _string_end(text: str, start: int, quote: str, raw: bool, template: bool) -> int:
    """Index just past the string whose opening quote starts at `start`.

    `template` strings (f/t) are scanned with PEP 701 rules: inside `{...}` any
    quote may open a nested string, and brackets nest."""
    i = start + len(quote)
    n = len(text)
    depth = 0
    while i < n:
        c = text[i]
        if depth == 0:
            if c == "\\" and not raw:
                i += 2
                continue
            if text.startswith(quote, i):
                return i + len(quote)
            if c == "\n" and len(quote) == 1:
                return i  # unterminated: let the parser report it
            if template and c == "{":
                if text.startswith("{{", i):
                    i += 2
                    continue
                depth = 1
            i += 1
            continue
        # inside a replacement field
        m = _PREFIX.match(text, i)
        if m:
            pre = (m.group(1) or "").lower()
            i = _string_end(text, m.start(2), m.group(2), "r" in pre, "f" in pre or "t" in pre)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        i += 1
    return n


def _blank(span: str) -> str:
    return "".join(ch if ch == "\n" else " " for ch in span)


def _template_strings(text: str, rw: Rewrite) -> str:
    """Replace f-/t-strings that 3.11 cannot read by plain strings of the same length."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            j = n if j == -1 else j
            out.append(text[i:j])
            i = j
            continue
        m = _PREFIX.match(text, i) if c in "'\"rRbBuUfFtT" else None
        if m is None:
            out.append(c)
            i += 1
            continue
        pre = (m.group(1) or "").lower()
        quote = m.group(2)
        template = "f" in pre or "t" in pre
        end = _string_end(text, m.start(2), quote, "r" in pre, template)
        lit = text[i:end]
        body = lit[len(m.group(0)):len(lit) - len(quote)] if end <= n else ""
        if template and (_is_new_style(body, quote) or "t" in pre):
            rw.features["t-string (PEP 750)" if "t" in pre else "f-string (PEP 701)"] = (
                "3.14" if "t" in pre else "3.12")
            inner = _blank(lit[len(m.group(0)):len(lit) - len(quote)])
            if "\n" in inner and len(quote) == 1:
                quote = quote * 3
            out.append(" " * len(m.group(1) or "") + quote + inner + quote)
        else:
            out.append(lit)
        i = end
    return "".join(out)


def _is_new_style(body: str, quote: str) -> bool:
    """Whether the replacement fields use what only PEP 701 allows."""
    depth = 0
    for k, ch in enumerate(body):
        if ch == "{" and not body.startswith("{{", k):
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif depth and (ch == "\\" or ch == "#" or (ch == "\n" and len(quote) == 1)
                        or quote[0] == ch):
            return True
    return False


def _close_bracket(text: str, start: int) -> int:
    """Index just past the `]` matching the `[` at `start`."""
    depth = 0
    for k in range(start, len(text)):
        ch = text[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(text)


def _type_params(text: str, rw: Rewrite) -> str:
    out = text
    for m in reversed(list(_DEF_PARAMS.finditer(text))):
        start = m.end() - 1
        end = _close_bracket(text, start)
        params = text[start:end]
        rw.features["type parameters (PEP 695)"] = "3.12"
        if "=" in params.replace("==", ""):
            rw.features["type parameter defaults (PEP 696)"] = "3.13"
        out = out[:start] + _blank(params) + out[end:]
    text = out
    for m in reversed(list(_TYPE_ALIAS.finditer(text))):
        indent, name = m.group(1), m.group(2)
        end = m.end()
        if m.group(3):
            end = _close_bracket(text, m.start(3))
        eq = re.compile(r"[ \t]*=(?!=)").match(text, end)
        if eq is None:
            continue
        rw.features["type statement (PEP 695)"] = "3.12"
        head = f"{indent}{name}"
        pad = " " * max(eq.start() - m.start() - len(head), 0)
        text = text[:m.start()] + head + pad + text[eq.start():]
    return text


def _py2_binding(names: str) -> bool:
    """`except ValueError, e:` is Python 2 for `except ValueError as e:`, not PEP 758:
    a last name in lower case that is not an exception class is a binding."""
    parts = [p.strip() for p in names.split(",")]
    last = parts[-1].rsplit(".", 1)[-1]
    return len(parts) == 2 and last.isidentifier() and last[:1].islower()


def _except_groups(text: str, rw: Rewrite) -> str:
    def fix(m: re.Match[str]) -> str:
        if " as " in m.group(2) or _py2_binding(m.group(2)):
            return m.group(0)
        rw.features["except without parentheses (PEP 758)"] = "3.14"
        return f"{m.group(1)} ({m.group(2)}):"
    return _EXCEPT.sub(fix, text)


def rewrite(text: str) -> Rewrite:
    """`text` with the newer constructs above rewritten; `features` says which."""
    rw = Rewrite(text)
    rw.text = _except_groups(_type_params(_template_strings(text, rw), rw), rw)
    return rw
