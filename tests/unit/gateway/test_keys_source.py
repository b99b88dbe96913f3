"""KeySource: parsing the spec, and reading the key from a raw request."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stateline.gateway.balancers.keys import KeySource

HEADERS = [(b"host", b"example"), (b"x-user-id", b" alice "),
           (b"cookie", b"theme=dark; session_id=s3cr3t; lang=en")]


@pytest.mark.parametrize(("spec", "parsed"), [
    ("header:X-User-Id", KeySource("header", name=b"x-user-id")),
    ("cookie:session_id", KeySource("cookie", name=b"session_id")),
    ("path:3", KeySource("path", index=3)),
    ("query:user", KeySource("query", name=b"user")),
    (" Header : X-User-Id ", KeySource("header", name=b"x-user-id")),
])
def test_parse_accepts_the_four_kinds(spec: str, parsed: KeySource) -> None:
    assert KeySource.parse(spec) == parsed


@pytest.mark.parametrize("spec", [
    "", "header", "header:", "body:x", "path:0", "path:-1", "path:two", "header:bad name",
    "cookie:a;b", "x-user-id",
])
def test_parse_refuses_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="key source"):
        KeySource.parse(spec)


@pytest.mark.parametrize("spec", ["header:x-user-id", "cookie:sid", "path:2", "query:u"])
def test_str_round_trips(spec: str) -> None:
    assert str(KeySource.parse(spec)) == spec


def test_header_key_is_found_and_trimmed() -> None:
    assert KeySource.parse("header:X-User-Id").extract(b"/", HEADERS) == b"alice"


def test_missing_or_empty_header_gives_no_key() -> None:
    src = KeySource.parse("header:X-Tenant")
    assert src.extract(b"/", HEADERS) is None
    assert src.extract(b"/", [(b"x-tenant", b"  ")]) is None


def test_cookie_key_is_found_among_others() -> None:
    assert KeySource.parse("cookie:session_id").extract(b"/", HEADERS) == b"s3cr3t"


def test_cookie_key_is_found_in_a_second_cookie_header_and_unquoted() -> None:
    headers = [(b"cookie", b"a=1"), (b"cookie", b'sid="q1"')]
    assert KeySource.parse("cookie:sid").extract(b"/", headers) == b"q1"


def test_cookie_name_must_match_exactly() -> None:
    headers = [(b"cookie", b"xsid=1; sidx=2")]
    assert KeySource.parse("cookie:sid").extract(b"/", headers) is None


@pytest.mark.parametrize(("target", "index", "key"), [
    (b"/carts/42/items", 1, b"carts"),
    (b"/carts/42/items", 2, b"42"),
    (b"/carts/42/items?x=1", 3, b"items"),
    (b"/carts/42/items", 4, None),
    (b"/carts//items", 2, None),
    (b"/users/a%20b/x", 2, b"a b"),
    (b"/", 1, None),
])
def test_path_segment_key_is_one_based(target: bytes, index: int, key: bytes | None) -> None:
    assert KeySource("path", index=index).extract(target, []) == key


@pytest.mark.parametrize(("target", "key"), [
    (b"/p?user=bob", b"bob"),
    (b"/p?a=1&user=bob&user=eve", b"bob"),
    (b"/p?user=b%C3%B6b", "böb".encode()),
    (b"/p?user=a+b", b"a b"),
    (b"/p?us%65r=x", b"x"),
    (b"/p?user=", None),
    (b"/p?username=bob", None),
    (b"/p", None),
    (b"/p?user=bob#frag", b"bob"),
])
def test_query_key_is_decoded(target: bytes, key: bytes | None) -> None:
    assert KeySource.parse("query:user").extract(target, []) == key


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(target=st.binary(max_size=60),
       headers=st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=30)), max_size=5))
def test_extract_never_raises_on_arbitrary_requests(target: bytes,
                                                    headers: list[tuple[bytes, bytes]]) -> None:
    for spec in ("header:x-k", "cookie:k", "path:2", "query:k"):
        key = KeySource.parse(spec).extract(target, headers)
        assert key is None or (isinstance(key, bytes) and key)
