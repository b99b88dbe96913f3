"""Input checks shared by the services: each bad input is a 4xx with a code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from stateline.app.errors import ApiError
from stateline.app.services.users import parse_email, parse_user_id
from stateline.app.validate import (
    identifier,
    json_int,
    json_number,
    json_text,
    query_int,
    query_params,
)


@pytest.mark.parametrize("value", ["u1", "user-42", "a.b_c:d@e", "x" * 64])
def test_identifier_accepts_key_safe_names(value: str) -> None:
    assert identifier(value, "id") == value


@pytest.mark.parametrize("value", ["", "x" * 65, "a{b}", "a b", "ü", "a/b", "a*"])
def test_identifier_refuses_what_could_break_a_redis_key(value: str) -> None:
    with pytest.raises(ApiError) as info:
        identifier(value, "id")
    assert info.value.status == 422


@pytest.mark.parametrize(("raw", "expected"), [(None, 20), ("", 20), ("1", 1), ("100", 100)])
def test_query_int_defaults_and_parses(raw: str | None, expected: int) -> None:
    assert query_int(raw, "limit", 20, 1, 100) == expected


@pytest.mark.parametrize("raw", ["0", "101", "-1", "--5", "1.5", "x", "²", "9" * 20])
def test_query_int_refuses_out_of_range_and_non_integers(raw: str) -> None:
    with pytest.raises(ApiError) as info:
        query_int(raw, "limit", 20, 1, 100)
    assert info.value.status == 400


@pytest.mark.parametrize("value", [True, None, "1", [1], 1e309, 10**400])
def test_json_number_refuses_non_numbers_and_overflow(value: object) -> None:
    with pytest.raises(ApiError) as info:
        json_number({"x": value}, "x")
    assert info.value.status == 422


def test_json_number_accepts_ints_and_floats() -> None:
    assert json_number({"x": 3}, "x") == 3.0
    assert json_number({"x": -2.5}, "x") == -2.5


@pytest.mark.parametrize("value", [0, 10_001, True, 1.0, "2", None])
def test_json_int_refuses_outside_its_range_and_other_types(value: object) -> None:
    with pytest.raises(ApiError):
        json_int({"qty": value}, "qty", 1, 10_000)


def test_json_text_trims_and_bounds() -> None:
    assert json_text({"name": "  Ann "}, "name", 10) == "Ann"
    for bad in ("", "   ", 5, None, "x" * 11):
        with pytest.raises(ApiError):
            json_text({"name": bad}, "name", 10)


def test_email_is_lower_cased_and_needs_a_domain_with_a_dot() -> None:
    assert parse_email({"email": "Ann@Example.COM"}) == "ann@example.com"
    for bad in ("ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@b@c.d"):
        with pytest.raises(ApiError) as info:
            parse_email({"email": bad})
        assert info.value.status == 422


def test_user_id_cursor_is_a_positive_integer() -> None:
    assert parse_user_id("17", "after") == 17
    for bad in ("", "-1", "x", "1" * 19, "1.0"):
        with pytest.raises(ApiError):
            parse_user_id(bad, "after")


@pytest.mark.parametrize("email", [
    "ada@example.com",
    "o'brien+tag@mail.example.org",
    "first.last@sub-domain.example.co.uk",
    "x!#$%&*/=?^_`{|}~-@example.com",
    "ann@xn--bcher-kva.example",       # an IDNA A-label
    "a" * 64 + "@example.com",
])
def test_email_accepts_dot_atom_local_parts_and_hostname_domains(email: str) -> None:
    assert parse_email({"email": email}) == email.lower()


@pytest.mark.parametrize("email", [
    "ada@example.com\u200b",           # zero-width space: a look-alike of a taken address
    "ada\u200d@example.com",           # zero-width joiner
    "\ufeffada@example.com",           # byte order mark
    "ada@exämple.com",                 # a U-label: send the xn-- form
    "ada\u0000@example.com",
    "ada@example.com\x01",
    "ada\x1b[31m@example.com",         # an ANSI escape
    "<script>alert(1)</script>@b.com",
    "x@b.com>",
    "x@b..com",
    "x@.b.com",
    "x@b.com.",
    "x.@b.com",
    ".x@b.com",
    "x..y@b.com",
    "x@-b.com",
    "x@b-.com",
    "x@b_c.com",
    '"x y"@b.com',                     # quoted local parts are not accepted
    "x(comment)@b.com",
    "a" * 65 + "@example.com",
    "x@" + "a" * 64 + ".com",
])
def test_email_refuses_invisible_control_and_malformed_addresses_with_422(email: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_email({"email": email})
    assert info.value.status == 422


@pytest.mark.parametrize("name", [
    "Ann\x00", "Ann\x07Lee", "Ann\x1b[2JLee", "Ann\x7f", "Ann\x85Lee", "Ann\x9b31mLee", "A\nB",
])
def test_text_fields_refuse_c0_and_c1_control_characters(name: str) -> None:
    with pytest.raises(ApiError) as info:
        json_text({"name": name}, "name", 200)
    assert (info.value.status, info.value.code) == (422, "invalid_field")


def test_text_fields_keep_non_latin_names() -> None:
    assert json_text({"name": "Zoë Ōtsuka-李"}, "name", 200) == "Zoë Ōtsuka-李"


@pytest.mark.parametrize("value", [1e309, 10**400])
def test_json_number_beyond_the_float_range_is_invalid_number(value: object) -> None:
    with pytest.raises(ApiError) as info:
        json_number({"x": value}, "x")
    assert (info.value.status, info.value.code) == (422, "invalid_number")


# Query strings as clients send them: names and values from a small alphabet that
# includes the separators, escapes and '+', so repeats, blanks and bad escapes occur.
_QUERY = st.lists(st.text(alphabet="ab=&+%2Fé ;", max_size=8), max_size=6).map(
    lambda parts: "&".join(parts).encode("utf-8"))


@given(_QUERY)
def test_query_params_answer_what_starlettes_query_params_answer(raw: bytes) -> None:
    """The lean parse is Starlette's, minus the multi-dict: the same value for every name."""
    theirs = QueryParams(raw)
    assert query_params(raw) == {name: theirs[name] for name in theirs}


def test_query_params_keep_blanks_decode_escapes_and_let_the_last_value_win() -> None:
    assert query_params(b"a=1&a=2&b=&c=x%20y+z&d") == {"a": "2", "b": "", "c": "x y z", "d": ""}
