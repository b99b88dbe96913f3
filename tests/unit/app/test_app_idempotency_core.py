"""The pure idempotency core: keys, scopes, fingerprints, records and the decision."""

from __future__ import annotations

import pytest

from stateline.app.errors import ApiError
from stateline.app.idempotency import (
    Decision,
    Outcome,
    Record,
    decide,
    fingerprint,
    hash_tag,
    kept_headers,
    parse_key,
    record_key,
    recordable,
)


@pytest.mark.parametrize("raw, key", [
    ("abc", "abc"), ('"abc"', "abc"), ("  k-1_2:3/4+5=  ", "k-1_2:3/4+5="),
    ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
    ("x" * 255, "x" * 255),
])
def test_good_keys(raw: str, key: str) -> None:
    assert parse_key([raw]) == key


@pytest.mark.parametrize("values", [
    [""], ['""'], ["a b"], ["x" * 256], ['a"b'], ["a\\b"], ["caf\u00e9"], ["a\tb"], ["a", "b"],
])
def test_bad_keys_are_400(values: list[str]) -> None:
    with pytest.raises(ApiError) as err:
        parse_key(values)
    assert err.value.status == 400 and err.value.code == "invalid_idempotency_key"


def test_fingerprint_covers_method_path_query_and_body() -> None:
    base = fingerprint("POST", "/api/carts/1/items", "", b'{"sku":"a"}')
    assert base == fingerprint("POST", "/api/carts/1/items", "", b'{"sku":"a"}')
    others = {
        fingerprint("PUT", "/api/carts/1/items", "", b'{"sku":"a"}'),
        fingerprint("POST", "/api/carts/2/items", "", b'{"sku":"a"}'),
        fingerprint("POST", "/api/carts/1/items", "x=1", b'{"sku":"a"}'),
        fingerprint("POST", "/api/carts/1/items", "", b'{"sku":"b"}'),
        # lengths are framed: moving a byte from path to query is another request
        fingerprint("POST", "/api/carts/1/item", "s", b'{"sku":"a"}'),
    }
    assert base not in others and len(others) == 5


def test_record_key_shares_the_data_keys_hash_tag() -> None:
    key = record_key("POST /api/carts/{user_id}/items", "u1", "k")
    assert hash_tag(key) == hash_tag("stateline:cart:{u1}") == "u1"
    assert hash_tag("no-tag") == "no-tag" and hash_tag("a{}b") == "a{}b"
    with pytest.raises(ValueError):
        record_key("POST /x", "a}b", "k")


def test_decisions() -> None:
    done = Record("done", "fp", Outcome(201, [("location", "/x")], b"{}"))
    assert decide(None, "fp") is Decision.PROCEED
    assert decide(Record("inflight", "fp"), "fp") is Decision.IN_FLIGHT
    assert decide(Record("inflight", "fp"), "other") is Decision.MISMATCH
    assert decide(done, "fp") is Decision.REPLAY
    assert decide(done, "other") is Decision.MISMATCH


def test_outcome_round_trips_through_record_fields() -> None:
    for body in (b'{"a": "\xc3\xa9"}', b"\xff\x00binary"):
        outcome = Outcome(201, [("set-cookie", "a=1"), ("set-cookie", "b=2")], body)
        f = outcome.encoded()
        back = Record.from_fields(["done", "fp", f["status"], f["headers"], f["body"], f["enc"]])
        assert back == Record("done", "fp", outcome)
    assert Record.from_fields(["inflight", "fp", None, None, None, None]) == \
        Record("inflight", "fp")


def test_only_headers_that_matter_are_kept_and_5xx_is_not_final() -> None:
    raw = [(b"content-length", b"2"), (b"Content-Type", b"application/json"),
           (b"location", b"/api/users/1"), (b"x-instance-id", b"app-1")]
    assert kept_headers(raw) == [("Content-Type", "application/json"),
                                 ("location", "/api/users/1")]
    assert recordable(201) and recordable(409) and not recordable(503)
