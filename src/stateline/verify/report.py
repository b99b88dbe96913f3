"""How `stateline verify` shows what it found: text for people, JSON for tools.

The text report puts the two responses side by side, because the question a
user asks next is "what did each replica say, and which replica was it": the
two columns answer it without scrolling between blocks.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stateline.verify.compare import ABSENT, FieldDiff
from stateline.verify.replay import Difference, ModeReport, Report, StepResult
from stateline.verify.script import NOT_JSON

_BODY_LINES = 30
_TEXT_LIMIT = 4000

_STATUS_WORDS = {
    "reference": "reference",
    "same": "no difference",
    "different": "DIFFERENT",
    "skipped": "skipped",
    "failed": "FAILED",
}


def _body_lines(result: StepResult) -> list[str]:
    ex = result.exchange
    if ex.status is None:
        return [f"(no response: {ex.error})"]
    body = ex.json
    if body is not NOT_JSON:
        return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=False).splitlines()
    if not ex.content:
        return ["(empty body)"]
    try:
        return ex.content.decode("utf-8").splitlines() or [""]
    except UnicodeDecodeError:
        digest = hashlib.sha256(ex.content).hexdigest()[:16]
        kind = ex.headers.get("content-type", "unknown type")
        return [f"({len(ex.content)} bytes of {kind}, sha256 {digest}...)"]


def _column(title: str, result: StepResult) -> list[str]:
    ex = result.exchange
    lines = [title, f"served by: {ex.replica}"]
    if ex.served_by:
        lines.append(f"instance (from its headers): {ex.served_by}")
    lines.append(f"{ex.request.method} {ex.request.path}")
    lines.append(f"status: {ex.status if ex.status is not None else '-'}")
    body = _body_lines(result)
    if len(body) > _BODY_LINES:
        body = [*body[:_BODY_LINES], f"... ({len(body) - _BODY_LINES} more lines)"]
    return [*lines, *body]


def side_by_side(left: list[str], right: list[str], width: int) -> list[str]:
    """Two columns of text, each cut to fit ``width`` in all."""
    col = max(20, (width - 3) // 2)

    def fit(s: str) -> str:
        return s if len(s) <= col else s[: col - 1] + "…"

    rows = max(len(left), len(right))
    left = left + [""] * (rows - len(left))
    right = right + [""] * (rows - len(right))
    return [f"{fit(a):<{col}} │ {fit(b)}".rstrip() for a, b in zip(left, right, strict=True)]


def _field_line(f: FieldDiff) -> str:
    def show(v: Any) -> str:
        text = "(absent)" if v is ABSENT else json.dumps(v, ensure_ascii=False)
        return text if len(text) <= 60 else text[:57] + "..."

    line = f"  {f.path}: {show(f.reference)} → {show(f.other)}"
    if f.returned is not None:
        line += f"  (relative; as returned {show(f.returned[0])} → {show(f.returned[1])})"
    return line


def render_text(report: Report, width: int = 100) -> str:
    out = ["stateline verify", "replicas:"]
    out += [f"  {r}" for r in report.replicas]
    out.append("modes:")
    for mode in report.modes:
        out.append(_mode_line(mode))
    diff = report.first_difference
    if diff is not None:
        out += ["", *_difference_text(diff, width)]
    out.append("")
    code = report.exit_code
    out.append({0: "result: no difference found",
                1: f"result: difference found in mode {diff.mode if diff else '?'}",
                2: "result: could not verify (see FAILED above)"}[code])
    return "\n".join(out) + "\n"


def _mode_line(mode: ModeReport) -> str:
    word = _STATUS_WORDS[mode.status]
    line = f"  {mode.title}: {word}"
    if mode.status in ("reference", "same"):
        line += f" ({mode.requests} requests)"
    if mode.difference is not None:
        d = mode.difference
        line += f" at request {d.step.title}: {d.summary}"
    if mode.reason:
        line += f" — {mode.reason.splitlines()[0]}"
        rest = mode.reason.splitlines()[1:]
        line += "".join(f"\n      {r}" for r in rest)
    return line


def _difference_text(diff: Difference, width: int) -> list[str]:
    out = [f"first difference: request {diff.step.title} — {diff.summary}"]
    left = _column("reference: mode (a)", diff.reference)
    right = _column(f"mode {_letter(diff.mode)} {diff.mode.replace('_', ' ')}", diff.other)
    out += side_by_side(left, right, width)
    if diff.mismatch and diff.mismatch.fields:
        out += ["fields that differ (volatile fields dropped, relative numbers as offsets):"]
        out += [_field_line(f) for f in diff.mismatch.fields]
    return out


def _letter(mode: str) -> str:
    return {"single": "(a)", "round_robin": "(b)", "restart": "(c)"}[mode]


def _response_json(result: StepResult) -> dict[str, Any]:
    ex = result.exchange
    out: dict[str, Any] = {
        "replica": ex.replica,
        "served_by": ex.served_by,
        "status": ex.status,
        "request": {"method": ex.request.method, "path": ex.request.path},
    }
    if ex.error:
        out["error"] = ex.error
    body = ex.json
    if body is not NOT_JSON:
        out["body"] = body
    elif ex.content:
        try:
            out["text"] = ex.content.decode("utf-8")[:_TEXT_LIMIT]
        except UnicodeDecodeError:
            out["bytes"] = len(ex.content)
    return out


def _difference_json(diff: Difference) -> dict[str, Any]:
    return {
        "mode": diff.mode,
        "request": diff.step.index,
        "method": diff.step.method,
        "path": diff.step.path,
        "summary": diff.summary,
        "reason": diff.mismatch.reason if diff.mismatch else "check",
        "fields": [
            {"path": f.path, "reference": _plain(f.reference), "other": _plain(f.other)}
            | ({"returned": [_plain(v) for v in f.returned]} if f.returned else {})
            for f in (diff.mismatch.fields if diff.mismatch else ())
        ],
        "reference": _response_json(diff.reference),
        "other": _response_json(diff.other),
    }


def _plain(value: Any) -> Any:
    return None if value is ABSENT else value


def render_json(report: Report) -> str:
    diff = report.first_difference
    doc = {
        "result": {0: "same", 1: "different", 2: "error"}[report.exit_code],
        "replicas": report.replicas,
        "modes": [
            {
                "mode": m.name,
                "status": m.status,
                "requests": m.requests,
                "reason": m.reason,
                "difference": _difference_json(m.difference) if m.difference else None,
            }
            for m in report.modes
        ],
        "first_difference": _difference_json(diff) if diff else None,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
