"""The replay's cookie jar: one client's cookies, whichever replica set them."""

from __future__ import annotations

from datetime import UTC, datetime

from stateline.verify.http import apply_set_cookie, cookie_header

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_set_cookie_adds_and_replaces_without_touching_the_old_jar() -> None:
    jar = {"a": "1"}
    out = apply_set_cookie(jar, ["a=2; Path=/; HttpOnly", "b=x; SameSite=Lax"], NOW)
    assert out == {"a": "2", "b": "x"}
    assert jar == {"a": "1"}


def test_max_age_zero_or_a_past_expiry_deletes_the_cookie() -> None:
    jar = {"a": "1", "b": "2", "c": "3"}
    out = apply_set_cookie(jar, [
        'a=""; Max-Age=0; Path=/',
        "b=gone; expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "c=kept; expires=Fri, 01 Jan 2100 00:00:00 GMT",
    ], NOW)
    assert out == {"c": "kept"}


def test_max_age_wins_over_expires() -> None:
    out = apply_set_cookie({}, ["a=1; Max-Age=60; expires=Thu, 01 Jan 1970 00:00:00 GMT"], NOW)
    assert out == {"a": "1"}


def test_quoted_values_are_unquoted_and_malformed_headers_ignored() -> None:
    assert apply_set_cookie({}, ['s="v w"', "no-equals-sign", "=anon"], NOW) == {"s": "v w"}


def test_the_cookie_header_lists_every_cookie_or_is_absent() -> None:
    assert cookie_header({"a": "1", "b": "2"}) == "a=1; b=2"
    assert cookie_header({}) is None
