from stateline.lab.report import comparison_rows, render_html, render_markdown

MACHINE = {"cpu": "Test CPU", "cores": 2, "os": "Linux", "python": "3.11.7",
           "redis_server": "6.2.14", "stateline": "0.1.0"}

RESULTS = {
    "failover": {"title": "Failover", "quick": True, "plots": ["timeline.png"], "headline": {
        "requests": 4800, "failed": 0, "failed_during_drain": 0, "peak_p99_ms": 12.5,
        "baseline_p99_ms": 3.25, "time_to_full_capacity_s": 1.5}},
    "stateful-shard": {"title": "Stateful shard", "plots": [], "headline": {
        "rooms_rps": 2008.6, "players_rps": 2977.4, "rooms_p99_ms": 8.3, "players_p99_ms": 5.0,
        "recovery_s": 3.4, "lost_acknowledged": 0, "moved_fraction": 0.25, "misrouted": 12}},
    "routing": {"title": "Routing", "plots": [], "headline": {
        "keys": 100000, "round_robin_moved": 0.75, "mod_n_moved": 0.751,
        "rendezvous_moved": 0.249, "hash_slot_moved": 0.5, "round_robin_cv": 0.0,
        "mod_n_cv": 0.01, "rendezvous_cv": 0.002, "hash_slot_cv": 0.0}},
}


def test_every_dimension_of_the_seed_table_is_present_in_order():
    rows = comparison_rows(RESULTS)
    assert [r[0] for r in rows] == ["Scalability", "Load Balancing", "Fault Tolerance",
                                    "Data Dependencies", "Examples",
                                    "State in memory (game server)", "Retried writes",
                                    "Consistency"]


def test_the_stateful_shard_row_quotes_speed_recovery_and_losses():
    rows = dict((r[0], r[1:]) for r in comparison_rows(RESULTS))
    redis_cell, memory_cell = rows["State in memory (game server)"]
    assert redis_cell[2] == memory_cell[2] == "stateful-shard"
    assert "2,977 req/s" in redis_cell[1]
    assert "2,009 req/s" in memory_cell[1] and "back after 3.4 s" in memory_cell[1]
    assert "0 acknowledged moves lost" in memory_cell[1] and "25.0 %" in memory_cell[1]


def test_cells_quote_measured_figures_and_link_their_experiment():
    rows = dict((r[0], r[1:]) for r in comparison_rows(RESULTS))
    stateless, _stateful = rows["Fault Tolerance"]
    assert stateless[2] == "failover"
    assert "0 failed of 4,800 requests" in stateless[1]
    assert "1.5 s" in stateless[1]
    _lb_stateless, lb_stateful = rows["Load Balancing"]
    assert "mod-N 75.1 %" in lb_stateful[1] and "rendezvous 24.9 %" in lb_stateful[1]


def test_missing_experiments_say_so_instead_of_inventing_figures():
    rows = dict((r[0], r[1:]) for r in comparison_rows(RESULTS))
    _words, figure, source = rows["Fault Tolerance"][1]
    assert source is None and "not measured yet" in figure and "stateful-failover" in figure


def test_a_result_without_its_headline_figures_is_reported_not_crashed():
    rows = comparison_rows({"failover": {"headline": {"requests": 1}}})
    assert "no figure" in rows[2][1][1]


def test_markdown_has_the_table_machine_line_and_links():
    md = render_markdown(RESULTS, MACHINE)
    assert "| Dimension | Stateless | Stateful |" in md
    assert "2 core(s)" in md and "redis-server 6.2.14" in md and "stateline 0.1.0" in md
    assert "(failover/data.json)" in md
    assert "Quick run (`--quick`)" in md and "failover" in md


def test_html_is_self_contained_with_plots_inline():
    html = render_html(RESULTS, MACHINE, {"failover/timeline.png": b"\x89PNG fake"})
    assert "data:image/png;base64,iVBORyBmYWtl" in html
    assert "<table>" in html and "Fault Tolerance" in html
    assert "src=\"failover/" not in html


def test_the_retried_writes_row_quotes_the_exactly_once_figures():
    results = {**RESULTS, "exactly-once": {"headline": {
        "requests": 11440, "duplicates_keyed": 0, "duplicates_unkeyed": 3,
        "lost_acknowledged": 0, "kills": 12}}}
    rows = dict((r[0], r[1:]) for r in comparison_rows(results))
    unkeyed, keyed = rows["Retried writes"]
    assert "retries without keys double-apply 3 writes, with keys 0" in unkeyed[1]
    assert unkeyed[2] == keyed[2] == "exactly-once"
    assert "lost 0" in keyed[1]


def test_html_renders_markdown_and_headlines_as_sentence_and_table():
    results = {**RESULTS, "failover": {**RESULTS["failover"],
                                       "captions": {"timeline.png": "see the `p99` settle"}}}
    html = render_html(results, MACHINE, {"failover/timeline.png": b"\x89PNG fake"})
    assert "`" not in html  # every backtick became <code>
    assert "<code>stateline experiment scaling</code>" in html
    assert '{"requests"' not in html  # no raw JSON headline any more
    assert "<td>failed during drain</td>" in html and "<td>4,800</td>" in html
    assert "0 failed of 4,800 requests" in html  # the sentence, from the comparison cell
    assert "<figcaption>see the <code>p99</code> settle</figcaption>" in html


def test_html_carries_the_quick_caveat_only_for_quick_runs():
    html = render_html(RESULTS, MACHINE, {})
    failover = html.split("<h3>")[1 + list(RESULTS).index("failover")]
    assert "noisier" in failover
    routing = next(s for s in html.split("<h3>") if "Routing</a>" in s)
    assert "noisier" not in routing
    assert "class='caveat'" in html
    assert "class='caveat'" not in render_html({"routing": RESULTS["routing"]}, MACHINE, {})


def test_the_consistency_row_quotes_the_partition_figures():
    results = {**RESULTS, "partition": {"headline": {
        "partition_s": 4.1, "node_timeout_s": 1.0, "lost_plain": 179, "acked_plain": 2125,
        "lost_wait": 0, "acked_wait": 1454, "stateless_failed": 2,
        "stateless_requests": 2033, "time_to_eject_s": 9.8}}}
    rows = dict((r[0], r[1:]) for r in comparison_rows(results))
    stateless, stateful = rows["Consistency"]
    assert "2 of 2,033 requests" in stateless[1] and "9.8 s" in stateless[1]
    assert "for 4.1 s" in stateful[1] and "179 of 2,125 acknowledged writes lost" in stateful[1]
    assert "with WAIT 1: 0 of 1,454" in stateful[1]
    assert stateless[2] == stateful[2] == "partition"
