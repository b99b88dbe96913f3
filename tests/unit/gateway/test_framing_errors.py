"""The gateway's own answers: JSON error bodies with exact framing, one per failure kind."""

from __future__ import annotations

import json

import pytest

from stateline.gateway.errors import FAILURE_ANSWERS, cached_reason, error_response, json_response
from stateline.gateway.retry import Failure


def split(raw: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    return lines[0], dict(line.split(b": ", 1) for line in lines[1:]), body


def test_an_error_is_json_with_code_and_message_and_exact_length() -> None:
    line, headers, body = split(error_response(404, "no_route", "no route for this path"))
    assert line == b"HTTP/1.1 404 Not Found"
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert json.loads(body) == {"error": {"code": "no_route", "message": "no route for this path"}}


def test_closing_errors_say_so_and_head_answers_carry_no_body() -> None:
    _, headers, body = split(error_response(400, "bad_request", "x", keep_alive=False,
                                            head_only=True))
    assert headers[b"connection"] == b"close" and body == b""
    assert int(headers[b"content-length"]) > 0  # the length the GET would have had


def test_extra_headers_are_added() -> None:
    _, headers, _ = split(error_response(429, "rate_limited", "slow down",
                                         extra=((b"retry-after", b"2"),)))
    assert headers[b"retry-after"] == b"2"


def test_json_response_accepts_prepared_bytes_and_a_content_type() -> None:
    _, headers, body = split(json_response(200, b"a 1\n", content_type=b"text/plain"))
    assert body == b"a 1\n" and headers[b"content-type"] == b"text/plain"


@pytest.mark.parametrize("failure", list(Failure))
def test_every_failure_kind_has_a_gateway_status(failure: Failure) -> None:
    status, code, message = FAILURE_ANSWERS[failure.name]
    assert status in (502, 503, 504) and code and message


def test_reason_phrases_are_standard_and_unknown_codes_still_answer() -> None:
    assert cached_reason(504) == b"Gateway Timeout"
    assert cached_reason(599) == b"Unknown"
