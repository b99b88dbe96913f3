"""The request-script format of `stateline verify`: parsing, checking, substitution, captures."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from stateline.verify.script import (
    NOT_JSON,
    Capture,
    ScriptError,
    capture_value,
    json_lookup,
    load_script,
    parse_script,
    render,
    substitute,
    substitute_json,
)


def test_a_bare_list_is_a_script_without_volatile_fields() -> None:
    script = parse_script("- {method: get, path: /a}\n- {method: POST, path: /b}\n")
    assert [(s.index, s.method, s.path) for s in script.steps] == [(1, "GET", "/a"),
                                                                   (2, "POST", "/b")]
    assert script.volatile == ()


def test_a_mapping_carries_volatile_and_relative_paths() -> None:
    script = parse_script(
        "volatile: [id, '**.at']\nrelative: [value]\nrequests:\n  - {path: /x}\n"
    )
    assert script.volatile == ("id", "**.at")
    assert script.relative == ("value",)
    assert script.steps[0].method == "GET"


def test_json_files_are_parsed_as_json(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text(json.dumps([{"method": "POST", "path": "/p", "json": {"a": 1}}]))
    step = load_script(f).steps[0]
    assert step.has_json and step.json_body == {"a": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "no requests"),
        ("requests: []", "no requests"),
        ("- {path: nope}", "starting with '/'"),
        ("- {path: /a, method: BREW}", "unsupported method"),
        ("- {path: /a, json: {}, body: x}", "one of"),
        ("- {path: /a, colour: red}", "unknown keys"),
        ("- {path: /a, capture: {x: 'json.'}}", "capture"),
        ("- {path: /a, capture: {run: json.id}}", "built in"),
        ("- {path: /a, expect_status: 999}", "HTTP status"),
        ("- {path: /a, body_base64: '***'}", "base64"),
        ("- {path: '/users/{uid}'}", "before any request captures it"),
        ("[unclosed", "does not parse"),
        ("volatile: id\nrequests: [{path: /a}]", "list of field paths"),
    ],
)
def test_bad_scripts_are_rejected_before_any_request(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse_script(text)


def test_a_variable_may_be_used_once_an_earlier_request_captured_it() -> None:
    script = parse_script(
        "- {method: POST, path: /u, capture: {uid: json.id}}\n- {path: '/u/{uid}'}\n"
    )
    assert script.steps[1].path == "/u/{uid}"


def test_run_is_always_defined() -> None:
    assert parse_script("- {path: '/carts/c-{run}'}").steps[0].path == "/carts/c-{run}"


def test_substitution_replaces_names_and_keeps_doubled_braces_literal() -> None:
    assert substitute("/u/{uid}?q={{x}}", {"uid": 7}) == "/u/7?q={x}"
    assert substitute("{name}", {"name": "ada"}) == "ada"


def test_a_json_string_that_is_only_a_variable_takes_the_captured_type() -> None:
    body = {"id": "{uid}", "label": "user {uid}", "tags": ["{uid}"], "n": 3}
    assert substitute_json(body, {"uid": 42}) == {
        "id": 42, "label": "user 42", "tags": [42], "n": 3,
    }


def test_render_sets_a_json_content_type_unless_the_script_gives_one() -> None:
    step = parse_script("- {method: POST, path: '/x/{run}', json: {a: '{run}'}}").steps[0]
    req = render(step, {"run": "r1"})
    assert req.path == "/x/r1"
    assert req.headers["Content-Type"] == "application/json"
    assert json.loads(req.content or b"") == {"a": "r1"}
    step = parse_script(
        "- {method: POST, path: /x, json: {}, headers: {content-type: text/json}}"
    ).steps[0]
    assert render(step, {}).headers == {"content-type": "text/json"}


def test_binary_bodies_are_sent_as_given() -> None:
    step = parse_script("- {method: POST, path: /img, body_base64: 'AAEC/w=='}").steps[0]
    assert render(step, {}).content == b"\x00\x01\x02\xff"


@pytest.mark.parametrize(
    ("spec", "source", "key"),
    [
        ("json.id", "json", "id"),
        ("json.items.0.sku", "json", "items.0.sku"),
        ("id", "json", "id"),
        ("json", "json", ""),
        ("header:Location", "header", "Location"),
        ("cookie:sid", "cookie", "sid"),
    ],
)
def test_capture_specs_name_their_source(spec: str, source: str, key: str) -> None:
    assert Capture.parse(spec) == Capture(source, key)


def test_captures_read_json_headers_and_cookies() -> None:
    headers = httpx.Headers({"Location": "/users/9"})
    body = {"items": [{"sku": "apple"}], "id": 9}
    assert capture_value(Capture("json", "items.0.sku"), body, headers, {}) == "apple"
    assert capture_value(Capture("header", "location"), body, headers, {}) == "/users/9"
    assert capture_value(Capture("cookie", "sid"), body, headers, {"sid": "abc"}) == "abc"
    with pytest.raises(KeyError):
        capture_value(Capture("json", "id"), NOT_JSON, headers, {})
    with pytest.raises(KeyError):
        capture_value(Capture("cookie", "sid"), body, headers, {})


def test_json_lookup_follows_list_indexes_and_reports_missing_parts() -> None:
    doc = {"a": [{"b": 1}, {"b": 2}]}
    assert json_lookup(doc, "a.1.b") == 2
    for missing in ("a.2.b", "a.x", "c", "a.0.b.d"):
        with pytest.raises(KeyError):
            json_lookup(doc, missing)
