"""Output formats for `stateline lint`: text (grouped by file), json, sarif 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import groupby

from stateline import __version__
from stateline.lint.model import Finding, Note
from stateline.lint.rules import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def to_json(findings: list[Finding], notes: Sequence[Note] = ()) -> str:
    """`{"findings": [...]}`, plus `"notes"` (files not analysed, and why) when any."""
    doc: dict[str, object] = {"findings": [f.as_dict() for f in findings]}
    if notes:
        doc["notes"] = [n.as_dict() for n in notes]
    return json.dumps(doc, indent=2)


def to_sarif(findings: list[Finding]) -> str:
    """SARIF 2.1.0 as GitHub code scanning reads it (one run, rules as reportingDescriptors)."""
    used = sorted({f.rule for f in findings} | set(RULES))
    rules = [{
        "id": rid,
        "name": RULES[rid].name,
        "shortDescription": {"text": RULES[rid].summary},
        "fullDescription": {"text": RULES[rid].summary},
        "help": {"text": RULES[rid].fix},
        "defaultConfiguration": {"level": _SARIF_LEVEL.get(RULES[rid].severity, "warning")},
        "properties": {"tags": ["accidental-state", "scalability"]},
    } for rid in used]
    index = {rid: i for i, rid in enumerate(used)}
    results = []
    for f in findings:
        text = f.message
        if f.chain:
            text += "\nChain: " + " → ".join(f.chain)
        if f.fix:
            text += "\nFix: " + f.fix
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.path.replace("\\", "/"),
                                     "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(f.line, 1), "startColumn": max(f.col, 1)},
            }}],
            "partialFingerprints": {"stateline/v1": f"{f.rule}:{f.path}:{f.cell}"},
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "stateline-lint",
                "version": __version__,
                "informationUri": "https://github.com/stateline/stateline",
                "rules": rules,
            }},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2)


_ANSI = {"bold": "1", "red": "31", "yellow": "33", "green": "32", "dim": "2"}


def _paint(text: str, style: str, colour: bool) -> str:
    return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if colour else text


def print_text(findings: list[Finding], write: Callable[[str], object], files: int,
               lines: int, suppressed: int = 0, colour: bool = False,
               notes: Sequence[Note] = ()) -> None:
    """Readable report: findings grouped by file, each with its chain and fix.

    Plain text through `write` (one call per line, newline included), with ANSI
    colours only when asked: the lint path stays free of rich so that the
    command starts in well under 0.15 s.
    """
    for path, group in groupby(findings, key=lambda f: f.path):
        write(_paint(path, "bold", colour) + "\n")
        for f in group:
            sev = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
            write(f"  {f.line}:{f.col} {_paint(f.rule, sev, colour)} "
                  f"{_paint(RULES[f.rule].name, 'dim', colour)} {f.message}\n")
            if f.chain:
                write(f"      chain: {' → '.join(f.chain)}\n")
            if f.fix:
                write(f"      {_paint('fix', 'green', colour)}: {f.fix}\n")
        write("\n")
    for n in notes:
        write(f"{n.path}: {_paint('note', 'dim', colour)}: {n.message}\n")
    if notes:
        write("\n")
    errors = sum(f.severity == "error" for f in findings)
    infos = sum(f.severity == "info" for f in findings)
    warnings = len(findings) - errors - infos
    write(f"{len(findings)} finding(s): {errors} error(s), {warnings} warning(s), "
          + (f"{infos} info, " if infos else "") +
          f"{suppressed} suppressed, in {files} file(s), {lines} line(s)"
          + (f"; {len(notes)} note(s)" if notes else "") + "\n")
