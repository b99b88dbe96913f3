"""The Jepsen set checker on hand-made histories: what counts as lost, and when."""

from __future__ import annotations

from stateline.lab.jepsen_set import analyse, detector_window_s


def w(e: str, t: float, ok: bool = True, acked: bool | None = None) -> dict[str, object]:
    return {"e": e, "t": t, "ok": ok, "acked": ok if acked is None else acked}


HISTORY = {
    "minority": [w("min-0", 99.0), w("min-1", 100.5), w("min-2", 101.2),
                 w("min-3", 102.0, ok=False), w("min-4", 106.0)],
    "majority": [w("maj-0", 99.5), w("maj-1", 100.3, ok=False), w("maj-2", 101.0, ok=False),
                 w("maj-3", 102.5), w("maj-4", 103.0, acked=False), w("maj-5", 104.0)],
}


def test_acknowledged_elements_missing_from_the_set_are_lost_and_timed_from_the_cut() -> None:
    final = {"min-0", "min-4", "maj-0", "maj-3", "maj-4", "maj-5", "min-3"}
    r = analyse(HISTORY, final, cut_at=100.0, healed_at=105.0, node_timeout_s=1.0)
    assert r["lost_acknowledged"] == 2 and r["lost_sample"] == ["min-1", "min-2"]
    assert r["timeline"]["lost"] == [0.5, 1.2]
    assert r["acknowledged"] == 4 + 3
    assert r["inside_documented_bound"] is False and r["beyond_bound_s"] == 0.2
    assert r["inside_detector_window"] is True  # 1.2 <= 1.5 * 1.0 + 0.2
    # failed or unconfirmed, yet present: indeterminate, not an error
    assert r["sides"]["minority"]["indeterminate_present"] == 1
    assert r["sides"]["majority"]["indeterminate_present"] == 1
    assert r["sides"]["majority"]["not_confirmed_by_wait"] == 1
    # majority: from the first write not acknowledged (100.3) to the acknowledged one
    # after the last such (maj-4, unconfirmed by WAIT, at 103.0): maj-5 at 104.0
    assert r["unavailable_s"] == 3.7
    assert r["minority_master_last_ack_s"] == 1.2
    assert r["partition_s"] == 5.0


def test_nothing_lost_is_inside_every_bound() -> None:
    final = {str(x["e"]) for recs in HISTORY.values() for x in recs}
    r = analyse(HISTORY, final, cut_at=100.0, healed_at=105.0, node_timeout_s=1.0)
    assert r["lost_acknowledged"] == 0 and r["lost_acked_between_s"] is None
    assert r["inside_documented_bound"] and r["beyond_bound_s"] == 0.0


def test_the_detector_window_grows_with_the_node_timeout() -> None:
    assert detector_window_s(1.0) == 1.7
    assert detector_window_s(2.0) == 3.2
