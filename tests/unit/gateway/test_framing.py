"""Framing rules: where a request body ends, and which requests are refused outright."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stateline.gateway.framing import (
    BODY_CHUNKED,
    BODY_LENGTH,
    BODY_NONE,
    FramingError,
    check_header_count,
    check_header_size,
    check_http_version,
    check_target_size,
    origin_form,
    parse_content_length,
    path_of,
    request_body_framing,
    response_has_body,
)

HOST = (b"host", b"example")
MAX = 1000


def framing(*headers: tuple[bytes, bytes], version: str = "1.1"):
    return request_body_framing([HOST, *headers], version, MAX)


def refused(*headers: tuple[bytes, bytes], version: str = "1.1") -> FramingError:
    with pytest.raises(FramingError) as info:
        framing(*headers, version=version)
    return info.value


def test_no_body_headers_means_no_body() -> None:
    assert framing().kind == BODY_NONE


def test_content_length_gives_a_length_body() -> None:
    f = framing((b"content-length", b"12"))
    assert (f.kind, f.length) == (BODY_LENGTH, 12)


def test_content_length_zero_is_no_body() -> None:
    assert framing((b"content-length", b"0")).kind == BODY_NONE


def test_chunked_gives_a_chunked_body() -> None:
    assert framing((b"transfer-encoding", b"chunked")).kind == BODY_CHUNKED
    assert framing((b"transfer-encoding", b" Chunked ")).kind == BODY_CHUNKED


def test_both_content_length_and_transfer_encoding_are_refused() -> None:
    err = refused((b"content-length", b"3"), (b"transfer-encoding", b"chunked"))
    assert (err.status, err.code) == (400, "ambiguous_framing")


def test_duplicate_content_length_is_refused_even_when_equal() -> None:
    assert refused((b"content-length", b"3"), (b"content-length", b"3")).status == 400


@pytest.mark.parametrize("value", [b"+3", b"-1", b"3, 3", b"0x10", b"", b" ", b"1e3", b"3 4",
                                   b"9" * 19])
def test_invalid_content_length_is_refused(value: bytes) -> None:
    assert refused((b"content-length", value)).code == "bad_content_length"


@pytest.mark.parametrize("value", [b"gzip", b"gzip, chunked", b"chunked, chunked", b"identity",
                                   b"chunked;x=1", b""])
def test_unknown_or_repeated_transfer_codings_are_refused(value: bytes) -> None:
    assert refused((b"transfer-encoding", value)).code == "bad_transfer_encoding"


def test_two_transfer_encoding_headers_are_refused() -> None:
    err = refused((b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked"))
    assert err.code == "bad_transfer_encoding"


def test_transfer_encoding_on_http10_is_refused() -> None:
    err = refused((b"transfer-encoding", b"chunked"), version="1.0")
    assert err.code == "bad_transfer_encoding"


def test_http11_without_host_or_with_two_is_refused() -> None:
    with pytest.raises(FramingError):
        request_body_framing([], "1.1", MAX)
    with pytest.raises(FramingError):
        request_body_framing([HOST, HOST], "1.1", MAX)


def test_http10_without_host_is_accepted() -> None:
    assert request_body_framing([], "1.0", MAX).kind == BODY_NONE


def test_declared_body_over_the_limit_is_413() -> None:
    assert refused((b"content-length", b"1001")).status == 413
    assert framing((b"content-length", b"1000")).length == 1000


@given(st.integers(min_value=0, max_value=10**17))
def test_any_plain_decimal_content_length_parses_to_itself(n: int) -> None:
    assert parse_content_length(str(n).encode()) == n


@given(st.binary(max_size=20))
def test_content_length_parses_only_when_it_is_digits(value: bytes) -> None:
    stripped = value.strip(b" \t")
    try:
        n = parse_content_length(value)
    except FramingError:
        assert not (stripped.isdigit() and len(stripped) <= 18)
    else:
        assert stripped.isdigit() and n == int(stripped)


def test_limits_answer_414_and_431() -> None:
    check_target_size(8192)
    with pytest.raises(FramingError) as info:
        check_target_size(8193)
    assert info.value.status == 414
    check_header_size(65536)
    with pytest.raises(FramingError) as info:
        check_header_size(65537)
    assert info.value.status == 431


def test_origin_form_passes_through() -> None:
    assert origin_form(b"GET", b"/a/b?c=d") == (b"/a/b?c=d", None)


@pytest.mark.parametrize(("target", "path", "authority"), [
    (b"http://other/x?y=1", b"/x?y=1", b"other"),
    (b"HTTP://other:81", b"/", b"other:81"),
    (b"https://h?q", b"/?q", b"h"),
])
def test_absolute_form_is_reduced_to_a_local_path(target: bytes, path: bytes,
                                                   authority: bytes) -> None:
    assert origin_form(b"GET", target) == (path, authority)


@pytest.mark.parametrize("target", [b"other:80", b"ftp://x/", b"http://user@evil/", b"x"])
def test_other_target_forms_are_refused(target: bytes) -> None:
    with pytest.raises(FramingError):
        origin_form(b"GET", target)


def test_connect_is_refused_with_405() -> None:
    with pytest.raises(FramingError) as info:
        origin_form(b"CONNECT", b"other:443")
    assert info.value.status == 405


def test_asterisk_only_for_options() -> None:
    assert origin_form(b"OPTIONS", b"*") == (b"*", None)
    with pytest.raises(FramingError):
        origin_form(b"GET", b"*")


def test_path_of_drops_the_query() -> None:
    assert path_of(b"/a?b") == b"/a"
    assert path_of(b"/a") == b"/a"


@pytest.mark.parametrize(("method", "status", "has_body"), [
    (b"GET", 200, True), (b"HEAD", 200, False), (b"GET", 204, False), (b"GET", 304, False),
    (b"GET", 103, False), (b"POST", 500, True),
])
def test_which_responses_carry_a_body(method: bytes, status: int, has_body: bool) -> None:
    assert response_has_body(method, status) is has_body


@pytest.mark.parametrize(("version", "status"), [("2.0", 505), ("3.0", 505), ("0.9", 400)])
def test_request_lines_other_than_http_1x_are_refused(version: str, status: int) -> None:
    with pytest.raises(FramingError) as err:
        check_http_version(version)
    assert err.value.status == status


def test_http_1x_is_accepted_and_more_than_the_header_limit_is_431() -> None:
    check_http_version("1.0")
    check_http_version("1.1")
    check_header_count(100, 100)
    with pytest.raises(FramingError) as err:
        check_header_count(101, 100)
    assert err.value.status == 431
