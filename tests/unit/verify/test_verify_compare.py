"""When two responses count as the same answer: volatile fields, relative numbers, run tokens."""

from __future__ import annotations

import pytest

from stateline.verify.compare import (
    ABSENT,
    VOLATILE_MARK,
    FieldDiff,
    Normaliser,
    Observed,
    compare,
    diff_json,
    path_matches,
    split_pattern,
    with_returned_values,
)
from stateline.verify.script import NOT_JSON


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("id", ("id",), True),
        ("id", ("user", "id"), False),
        ("user.id", ("user", "id"), True),
        ("items.*.created_at", ("items", "3", "created_at"), True),
        ("items.*.created_at", ("items", "created_at"), False),
        ("**.instance", ("instance",), True),
        ("**.instance", ("a", "b", "instance"), True),
        ("**.instance", ("a", "instance", "b"), False),
        ("a.**", ("a", "b", "c"), True),
    ],
)
def test_path_patterns(pattern: str, path: tuple[str, ...], matches: bool) -> None:
    assert path_matches(split_pattern(pattern), path) is matches


def test_volatile_fields_are_dropped_and_volatile_list_items_masked() -> None:
    n = Normaliser(volatile=("id", "items.*.at", "tags.1"))
    doc = {"id": 5, "name": "x", "items": [{"at": 1, "sku": "a"}], "tags": ["p", "q"]}
    assert n.json(doc) == {"name": "x", "items": [{"sku": "a"}], "tags": ["p", VOLATILE_MARK]}


def test_relative_numbers_are_offsets_from_the_first_value_of_the_replay() -> None:
    first, second = Normaliser(relative=("value",)), Normaliser(relative=("value",))
    assert [first.json({"value": v}) for v in (7, 8, 8)] == [{"value": 0}, {"value": 1},
                                                             {"value": 1}]
    assert [second.json({"value": v}) for v in (40, 41, 41)] == [{"value": 0}, {"value": 1},
                                                                 {"value": 1}]


def test_relative_paths_leave_booleans_and_strings_alone() -> None:
    n = Normaliser(relative=("**",))
    assert n.json({"ok": True, "s": "3"}) == {"ok": True, "s": "3"}


def test_the_replays_run_token_reads_as_the_placeholder() -> None:
    n = Normaliser(run_token="rabc123")
    assert n.json({"email": "ada-rabc123@example.com", "rabc123": 1}) == {
        "email": "ada-{run}@example.com", "{run}": 1,
    }
    assert n.raw(b"cart rabc123") == b"cart {run}"


def test_equal_answers_compare_equal() -> None:
    a = Observed(200, body={"x": [1, 2]})
    assert compare(a, Observed(200, body={"x": [1, 2]})) is None
    assert compare(Observed(200, raw=b"img"), Observed(200, raw=b"img")) is None


def test_a_status_difference_is_reported_with_both_codes() -> None:
    m = compare(Observed(200, body={"user": "a"}), Observed(401, body={"error": {}}))
    assert m is not None and m.reason == "status"
    assert "200 vs 401" in m.summary()
    assert FieldDiff("user", "a", ABSENT) in m.fields


def test_body_differences_name_the_fields() -> None:
    m = compare(Observed(200, body={"value": 1, "k": "a"}), Observed(200, body={"value": -4,
                                                                                "k": "a"}))
    assert m is not None and m.reason == "body"
    assert m.fields == (FieldDiff("value", 1, -4),)
    assert "value: 1 vs -4" in m.summary()


def test_non_json_bodies_are_compared_byte_for_byte() -> None:
    m = compare(Observed(200, raw=b"a"), Observed(200, raw=b"b"))
    assert m is not None and m.reason == "body"
    kind = compare(Observed(200, body={"a": 1}), Observed(200, body=NOT_JSON, raw=b"a"))
    assert kind is not None and kind.reason == "kind"


def test_a_missing_response_differs_from_any_response() -> None:
    m = compare(Observed(200, body={}), Observed(None, error="ConnectError"))
    assert m is not None and m.reason == "no_response"


def test_json_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    assert diff_json({"a": 1}, {"a": 1.0}) == []
    assert diff_json({"a": True}, {"a": 1}) == [FieldDiff("a", True, 1)]


def test_list_length_differences_show_absent_items() -> None:
    assert diff_json([1], [1, 2]) == [FieldDiff("1", ABSENT, 2)]


def test_relative_differences_also_show_the_values_as_returned() -> None:
    fields = (FieldDiff("value", 1, -4), FieldDiff("name", "a", "b"))
    shown = with_returned_values(fields, {"value": 2, "name": "a"}, {"value": 1, "name": "b"})
    assert shown[0].returned == (2, 1)
    assert shown[1].returned is None
    assert shown[0].describe() == "value: 1 vs -4 (relative; as returned 2 vs 1)"
