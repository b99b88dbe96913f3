"""``/api/docs``: the OpenAPI document as one HTML page, rendered here, in Python.

No JavaScript and nothing fetched from elsewhere (no CDN): the page is the
document's operations, parameters, bodies and answers as plain HTML with a
little inline CSS, so it works offline and under a strict
Content-Security-Policy. Every value from the document is escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222}
h1{font-size:1.6rem}h2{font-size:1.15rem;margin:2rem 0 .3rem;border-top:1px solid #ddd;
padding-top:1rem}
code,pre{font:13px ui-monospace,monospace;background:#f5f5f5}pre{padding:.5rem;overflow:auto}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;
text-align:left;vertical-align:top}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _schema(schema: Any) -> str:
    return f"<pre>{_e(json.dumps(schema, indent=1, sort_keys=True))}</pre>"


def _params(params: list[dict[str, Any]]) -> str:
    if not params:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td><code>{_e(json.dumps(p.get('schema', {}), sort_keys=True))}</code>"
        f"{'<br>' + _e(p['description']) if p.get('description') else ''}</td></tr>"
        for p in params
    )
    return ("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th>"
            f"<th>schema</th></tr>{rows}</table>")


def _body(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    parts = "".join(f"<p><code>{_e(media)}</code></p>{_schema(c.get('schema', {}))}"
                    for media, c in body.get("content", {}).items())
    return f"<h4>Request body</h4>{parts}"


def _responses(responses: dict[str, Any]) -> str:
    rows = []
    for status, reply in responses.items():
        media = ", ".join(reply.get("content", {})) or "no body"
        rows.append(f"<tr><td>{_e(status)}</td><td>{_e(reply.get('description', ''))}</td>"
                    f"<td><code>{_e(media)}</code></td></tr>")
    return ("<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>body</th></tr>"
            + "".join(rows) + "</table>")


def render(doc: dict[str, Any]) -> str:
    """The whole page for an OpenAPI document."""
    info = doc.get("info", {})
    sections = []
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            sections.append(
                f"<h2><span class=m>{_e(method.upper())}</span><code>{_e(path)}</code></h2>"
                f"<p>{_e(op.get('summary', ''))}</p>"
                + _params(op.get("parameters", []))
                + _body(op.get("requestBody"))
                + _responses(op.get("responses", {}))
            )
    error = doc.get("components", {}).get("schemas", {}).get("Error", {})
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(info.get('title', 'API'))}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(info.get('title', 'API'))} <small>{_e(info.get('version', ''))}</small></h1>"
        f"<p>{_e(info.get('description', ''))}</p>"
        '<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> '
        f"(OpenAPI {_e(doc.get('openapi', ''))}).</p>"
        f"<h3>Error shape</h3>{_schema(error)}"
        + "".join(sections)
        + "</body></html>"
    )
