"""Fuzzing: no query string, JSON body, raw body or path segment makes the app answer 5xx.

Every answer to generated input must be a success or a 4xx with the JSON error
shape; a 500 here is a bug (the app re-raises it, so the test shows the
traceback).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stateline.settings import Settings

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client(redis_url: str, tmp_path_factory: pytest.TempPathFactory,
           run_app: Any) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    app_settings = Settings(redis_url=redis_url, data_dir=tmp,
                            database_url=f"sqlite:///{tmp / 'fuzz.db'}")
    with run_app(app_settings, "app-fuzz") as c:
        yield c


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)


_text = st.text(max_size=30)
_params = st.dictionaries(st.sampled_from(["a", "b", "amount", "from", "to", "limit", "after",
                                           "width", "height", "format", "source"]) | _text,
                          _text, max_size=5)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
_objects = st.fixed_dictionaries({}, optional={
    "name": _json, "email": _json | st.emails(), "sku": _json, "qty": _json, "user": _json,
    "x": _json, "y": _json,
})


@FUZZ
@given(path=st.sampled_from(["/api/calc/add", "/api/calc/pow", "/api/calc/div",
                             "/api/currency/convert", "/api/users"]), params=_params)
def test_query_strings_never_cause_a_5xx(client: Any, path: str, params: dict[str, str]) -> None:
    _check(client.get(path, params=params))


@FUZZ
@given(target=st.sampled_from([("POST", "/api/users"), ("POST", "/api/carts/u1/items"),
                               ("POST", "/api/sessions"), ("PUT", "/api/players/p1/position")]),
       body=_objects | _json)
def test_json_bodies_never_cause_a_5xx(client: Any, target: tuple[str, str], body: Any) -> None:
    method, path = target
    try:
        raw = orjson.dumps(body)
    except orjson.JSONEncodeError:  # NaN and friends: send Python's non-standard spelling
        import json

        raw = json.dumps(body).encode()
    _check(client.request(method, path, content=raw,
                          headers={"content-type": "application/json"}))


@FUZZ
@given(target=st.sampled_from([("POST", "/api/users"), ("PUT", "/api/players/p1/position"),
                               ("POST", "/api/images/resize?width=5&height=5"),
                               ("POST", "/api/images")]),
       raw=st.binary(max_size=200))
def test_raw_bodies_never_cause_a_5xx(client: Any, target: tuple[str, str], raw: bytes) -> None:
    method, path = target
    # Labelled JSON, so the JSON endpoints parse the bytes instead of answering 415.
    _check(client.request(method, path, content=raw,
                          headers={"content-type": "application/json"}))


@FUZZ
@given(segment=st.text(min_size=1, max_size=80))
def test_path_segments_never_cause_a_5xx(client: Any, segment: str) -> None:
    part = quote(segment, safe="")
    for method, path in [("GET", f"/api/carts/{part}"), ("GET", f"/api/users/{part}"),
                         ("GET", f"/api/players/{part}/position"),
                         ("DELETE", f"/api/carts/u1/items/{part}"),
                         ("GET", f"/api/images/{part}"), ("GET", f"/api/calc/{part}")]:
        _check(client.request(method, path))
