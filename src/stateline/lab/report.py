"""``stateline report``: the seed's comparison table, every cell a measured figure.

Pure builders (:func:`comparison_rows`, :func:`render_markdown`,
:func:`render_html`) take the experiments' data.json contents, so they are
tested on synthetic results; :func:`write_report` only reads and writes files.
A cell whose experiment has not been run says so instead of inventing a figure.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from stateline.lab.experiments import EXPERIMENTS
from stateline.lab.experiments.base import QUICK_CAVEAT, machine, md_table, read_result

Results = Mapping[str, Mapping[str, Any] | None]
Cell = tuple[str, str, str | None]  # (seed's words, measured figure, experiment it came from)


def _pct(x: Any) -> str:
    return f"{float(x) * 100:.1f} %" if isinstance(x, int | float) else "?"


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"
    return str(x)


def _cell(results: Results, name: str, words: str,
          figure: Callable[[Mapping[str, Any]], str]) -> Cell:
    data = results.get(name)
    if not data:
        return words, f"not measured yet (`stateline experiment {name}`)", None
    try:
        return words, figure(data["headline"]), name
    except (KeyError, TypeError, ValueError) as exc:
        return words, f"no figure in {name}/data.json ({exc})", name


def _scaling(h: Mapping[str, Any]) -> str:
    return (f"image resize {_num(h['cpu_rps_1'])} → {_num(h['cpu_rps_max'])} req/s with 1 → "
            f"{h['max_instances']} instances (efficiency {_num(h['cpu_efficiency_max'])}); "
            f"cart {_num(h['store_rps_1'])} → {_num(h['store_rps_max'])} req/s; on this "
            f"{h['cores']}-core machine the curve is "
            + (f"flat after {h['knee']} instance(s)" if h["knee"] < h["max_instances"]
               else f"still rising at {h['max_instances']} instance(s)"))


def _resharding(h: Mapping[str, Any]) -> str:
    return (f"{_num(h['slots_moved'])} slots ({_num(h['keys_moved'])} keys) moved under load: "
            f"clients saw {_num(h['moved_redirects'])} MOVED + {_num(h['ask_redirects'])} ASK "
            f"redirections, {_num(h['errors'])} errors")


def _rr(h: Mapping[str, Any]) -> str:
    return (f"round robin: load CV {h['round_robin_cv']:.3f} over {_num(h['keys'])} keys; any "
            f"instance serves any key")


def _consistent(h: Mapping[str, Any]) -> str:
    return (f"3 → 4 members moves mod-N {_pct(h['mod_n_moved'])}, hash_slot "
            f"{_pct(h['hash_slot_moved'])}, rendezvous {_pct(h['rendezvous_moved'])} of keys "
            f"(minimum 25 %)")


def _failover(h: Mapping[str, Any]) -> str:
    cap = h.get("time_to_full_capacity_s")
    return (f"SIGKILL of 1 of 3 instances: {_num(h['failed'])} failed of "
            f"{_num(h['requests'])} requests; p99 {_num(h['baseline_p99_ms'])} → "
            f"{_num(h['peak_p99_ms'])} ms; full capacity again after "
            f"{_num(cap) + ' s' if cap is not None else 'n/a'}; drain: "
            f"{_num(h['failed_during_drain'])} errors")


def _stateful_failover(h: Mapping[str, Any]) -> str:
    return (f"SIGKILL of a Redis master: its slots unavailable {_num(h['window_s_plain'])} s, "
            f"{_num(h['failed_plain'])} writes failed, acknowledged writes lost: "
            f"{_num(h['lost_plain'])} plain vs {_num(h['lost_wait'])} with WAIT 1; old master "
            f"rejoined as replica: {'yes' if h.get('rejoined_as_replica') else 'no'}")


def _external(h: Mapping[str, Any]) -> str:
    return (f"Redis INCR via 3 instances: {_num(h['increments'])} increments → value "
            f"{_num(h['redis_final'])} (divergence {_num(h['redis_divergence'])}); after "
            f"restart of `up`: {_num(h['redis_after_restart'])}")


def _internal(h: Mapping[str, Any]) -> str:
    return (f"in-process counter via 3 instances: {_num(h['increments'])} increments → "
            f"highest value {_num(h['local_max'])} (divergence {_num(h['local_divergence'])}); "
            f"after restart: {_num(h['local_after_restart'])} (lost)")


def _examples_stateless(h: Mapping[str, Any]) -> str:
    return (f"stateline gateway + app instances (calc, currency, images): "
            f"{_num(h['cpu_rps_max'])} resizes/s with {h['max_instances']} instances")


def _examples_stateful(h: Mapping[str, Any]) -> str:
    return (f"Redis Cluster (3 masters + 3 replicas) and SQL: cart (Redis) "
            f"{_num(h['store_rps_max'])} req/s with {h['max_instances']} instances")


def _players_in_redis(h: Mapping[str, Any]) -> str:
    return (f"players service, positions in Redis Cluster: {_num(h['players_rps'])} req/s "
            f"(closed loop), p99 {_num(h['players_p99_ms'])} ms; any instance serves any player")


def _rooms_in_memory(h: Mapping[str, Any]) -> str:
    return (f"rooms shards, state in shard memory: {_num(h['rooms_rps'])} req/s, p99 "
            f"{_num(h['rooms_p99_ms'])} ms; SIGKILL of a shard: its rooms back after "
            f"{_num(h['recovery_s'])} s, {_num(h['lost_acknowledged'])} acknowledged moves "
            f"lost; 3 → 4 shards moved {_pct(h['moved_fraction'])} of rooms; "
            f"{_num(h['misrouted'])} requests refused by a non-owner")


def _retries_unkeyed(h: Mapping[str, Any]) -> str:
    return (f"retries without keys double-apply {_num(h['duplicates_unkeyed'])} writes, with "
            f"keys {_num(h['duplicates_keyed'])} ({_num(h['requests'])} requests, "
            f"{_num(h['kills'])} SIGKILLs)")


def _retries_keyed(h: Mapping[str, Any]) -> str:
    return (f"outcome recorded with the write in one Lua script: acknowledged writes lost "
            f"{_num(h['lost_acknowledged'])}")


def _partition_stateless(h: Mapping[str, Any]) -> str:
    eject = h.get("time_to_eject_s")
    return (f"nothing to keep in sync: an app host cut off from the gateway cost "
            f"{_num(h['stateless_failed'])} of {_num(h['stateless_requests'])} requests; "
            f"ejected after {_num(eject) + ' s' if eject is not None else 'n/a'}")


def _partition_stateful(h: Mapping[str, Any]) -> str:
    return (f"a Redis master cut off with an app host for {_num(h['partition_s'])} s "
            f"(node timeout {_num(h['node_timeout_s'])} s): {_num(h['lost_plain'])} of "
            f"{_num(h['acked_plain'])} acknowledged writes lost; with WAIT 1: "
            f"{_num(h['lost_wait'])} of {_num(h['acked_wait'])}")


def comparison_rows(results: Results) -> list[tuple[str, Cell, Cell]]:
    """The seed's table: (dimension, stateless cell, stateful cell)."""
    return [
        ("Scalability",
         _cell(results, "scaling", "Easy (just add nodes)", _scaling),
         _cell(results, "resharding", "Hard (shard/replicate)", _resharding)),
        ("Load Balancing",
         _cell(results, "routing", "Round-robin works", _rr),
         _cell(results, "routing", "Need consistent routing", _consistent)),
        ("Fault Tolerance",
         _cell(results, "failover", "Trivial", _failover),
         _cell(results, "stateful-failover", "Complex", _stateful_failover)),
        ("Data Dependencies",
         _cell(results, "accidental-state", "External only", _external),
         _cell(results, "accidental-state", "Internal state", _internal)),
        ("Examples",
         _cell(results, "scaling", "API Gateway, CDN", _examples_stateless),
         _cell(results, "scaling", "Database, Cache", _examples_stateful)),
        ("State in memory (game server)",
         _cell(results, "stateful-shard", "Kept outside (Redis)", _players_in_redis),
         _cell(results, "stateful-shard", "Kept inside, routed by key", _rooms_in_memory)),
        ("Retried writes",
         _cell(results, "exactly-once", "Any instance may take the retry", _retries_unkeyed),
         _cell(results, "exactly-once", "The key's record lives with the data",
               _retries_keyed)),
        ("Consistency",
         _cell(results, "partition", "Nothing to keep in sync", _partition_stateless),
         _cell(results, "partition", "Must keep replicas in sync", _partition_stateful)),
    ]


def _machine_line(m: Mapping[str, Any]) -> str:
    return (f"Machine: {m['cpu']}, {m['cores']} core(s), {m['os']}; Python {m['python']}, "
            f"redis-server {m['redis_server']}, stateline {m['stateline']}.")


def _md_cell(cell: Cell) -> str:
    words, figure, source = cell
    link = f" ([data]({source}/data.json))" if source else ""
    return f"{words}: **{figure}**{link}".replace("|", "\\|")


def render_markdown(results: Results, m: Mapping[str, Any]) -> str:
    lines = ["# stateline: the seed's comparison, measured", "", _machine_line(m), ""]
    quick = sorted(n for n, d in results.items() if d and d.get("quick"))
    if quick:
        lines += [f"{QUICK_CAVEAT} Quick: {', '.join(quick)}.", ""]
    lines += ["| Dimension | Stateless | Stateful |", "|---|---|---|"]
    for dim, a, b in comparison_rows(results):
        lines.append(f"| {dim} | {_md_cell(a)} | {_md_cell(b)} |")
    lines += ["", "## Experiments", ""]
    for name, (_, what) in EXPERIMENTS.items():
        data = results.get(name)
        if not data:
            lines.append(f"- **{name}** ({what}): not run.")
            continue
        lines.append(f"- **[{data.get('title', name)}]({name}/report.md)** — {what}; "
                     f"finished {data.get('finished_at')}, {data.get('wall_s')} s.")
        captions = data.get("captions") or {}
        for p in data.get("plots", []):
            lines.append(f"  ![{name} {p}]({name}/{p})")
            if p in captions:
                lines.append(f"  *{captions[p]}*")
    return "\n".join(lines) + "\n"


def _inline(md: MarkdownIt, text: str) -> str:
    """One line of Markdown (backticks, bold, links) as HTML, without a <p> around it."""
    return md.renderInline(text)


def headline_sentences(name: str, results: Results) -> list[str]:
    """The comparison table's figures that come from experiment ``name`` (Markdown)."""
    seen: list[str] = []
    for _dim, *cells in comparison_rows(results):
        for _words, figure, source in cells:
            if source == name and figure not in seen:
                seen.append(figure)
    return seen


def headline_table(headline: Mapping[str, Any]) -> str:
    """The headline figures as a small two-column Markdown table (name → value)."""
    rows = [[key.replace("_", " "), _num(value)] for key, value in headline.items()]
    return md_table(["figure", "value"], rows) if rows else ""


def render_html(results: Results, m: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """One self-contained page: the table and every plot inline (base64 PNG).

    Every text goes through a real Markdown renderer (markdown-it-py, CommonMark plus
    tables), so the `code` and **bold** of the figures and descriptions read as such.
    Each experiment gets its figures as a sentence and a small table, its plots with
    their captions, and the quick-run caveat when it was a ``--quick`` run.
    """
    md = MarkdownIt("commonmark").enable("table")

    def cell(c: Cell) -> str:
        words, figure, source = c
        link = f' <a href="{source}/data.json">data</a>' if source else ""
        return f"<td>{_inline(md, words)}:<br><b>{_inline(md, figure)}</b>{link}</td>"

    rows = "".join(f"<tr><th>{html.escape(d)}</th>{cell(a)}{cell(b)}</tr>"
                   for d, a, b in comparison_rows(results))
    quick = sorted(n for n, d in results.items() if d and d.get("quick"))
    caveat = (f"<p class='caveat'>{_inline(md, QUICK_CAVEAT)} Quick: "
              f"{html.escape(', '.join(quick))}.</p>" if quick else "")
    sections = []
    for name, (_, what) in EXPERIMENTS.items():
        data = results.get(name)
        if not data:
            sections.append(f"<h3>{html.escape(name)}</h3><p>{_inline(md, what)}: not run "
                            f"(<code>stateline experiment {html.escape(name)}</code>).</p>")
            continue
        captions = data.get("captions") or {}
        figs = "".join(
            f'<figure><img alt="{html.escape(name)} {html.escape(p)}" src="data:image/png;base64,'
            f'{base64.b64encode(images[f"{name}/{p}"]).decode()}">'
            + (f"<figcaption>{_inline(md, captions[p])}</figcaption>" if p in captions else "")
            + "</figure>"
            for p in data.get("plots", []) if f"{name}/{p}" in images)
        sentence = "; ".join(headline_sentences(name, results))
        body = (f"{_inline(md, what)}." + (f" {sentence}." if sentence else "")
                + (f" {QUICK_CAVEAT}" if data.get("quick") else ""))
        table = md.render(headline_table(data.get("headline") or {}))
        sections.append(
            f'<h3><a href="{html.escape(name)}/report.md">'
            f'{html.escape(data.get("title", name))}</a></h3>'
            f"<p>{_inline(md, body)}</p>{table}{figs}")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>stateline report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:.4em;vertical-align:top;text-align:left}img{max-width:100%}"
        "code{background:#f3f3f3;padding:0 .2em}figcaption{font-style:italic;color:#333}"
        ".caveat{background:#fff6d5;padding:.5em}</style></head><body>"
        "<h1>stateline: the seed's comparison, measured</h1>"
        f"<p>{_inline(md, _machine_line(m))}</p>{caveat}"
        f"<table><tr><th>Dimension</th><th>Stateless</th><th>Stateful</th></tr>{rows}</table>"
        f"<h2>Experiments</h2>{''.join(sections)}</body></html>\n"
    )


def write_report(out: Path) -> tuple[Path, Path]:
    """Read every OUT/NAME/data.json there is; write OUT/report.md and OUT/report.html."""
    out.mkdir(parents=True, exist_ok=True)
    results = {name: read_result(out, name) for name in EXPERIMENTS}
    images: dict[str, bytes] = {}
    for name, data in results.items():
        for p in (data or {}).get("plots", []):
            path = out / name / p
            if path.exists():
                images[f"{name}/{p}"] = path.read_bytes()
    measured = next((d["machine"] for d in results.values() if d and "machine" in d), None)
    m = measured or machine()
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(render_markdown(results, m))
    html_path.write_text(render_html(results, m, images))
    return md_path, html_path
