"""Output formats for `stateline lint`: text (grouped by file), json, sarif 2.1.0."""

from __future__ import annotations

import json
from itertools import groupby

from rich.console import Console
from rich.markup import escape

from stateline import __version__
from stateline.lint.model import Finding
from stateline.lint.rules import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_json(findings: list[Finding]) -> str:
    return json.dumps({"findings": [f.as_dict() for f in findings]}, indent=2)


def to_sarif(findings: list[Finding]) -> str:
    """SARIF 2.1.0 as GitHub code scanning reads it (one run, rules as reportingDescriptors)."""
    used = sorted({f.rule for f in findings} | set(RULES))
    rules = [{
        "id": rid,
        "name": RULES[rid].name,
        "shortDescription": {"text": RULES[rid].summary},
        "fullDescription": {"text": RULES[rid].summary},
        "help": {"text": RULES[rid].fix},
        "defaultConfiguration": {"level": RULES[rid].severity},
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
            "level": f.severity,
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


def print_text(findings: list[Finding], console: Console, files: int, lines: int,
               suppressed: int = 0) -> None:
    """Readable report: findings grouped by file, each with its chain and fix."""
    for path, group in groupby(findings, key=lambda f: f.path):
        console.print(f"[bold]{escape(path)}[/bold]")
        for f in group:
            colour = "red" if f.severity == "error" else "yellow"
            console.print(f"  {f.line}:{f.col} [{colour}]{f.rule}[/{colour}] "
                          f"[dim]{RULES[f.rule].name}[/dim] {escape(f.message)}")
            if f.chain:
                console.print(f"      chain: {escape(' → '.join(f.chain))}", highlight=False)
            if f.fix:
                console.print(f"      [green]fix[/green]: {escape(f.fix)}", highlight=False)
        console.print()
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    console.print(f"{len(findings)} finding(s): {errors} error(s), {warnings} warning(s), "
                  f"{suppressed} suppressed, in {files} file(s), {lines} line(s)")
