"""Hostile and sloppy clients against one in-process instance: each gets a quiet 4xx.

Clients that hang up mid-body, look-alike emails, control characters, numbers
in other scripts, overflowing JSON numbers, forms posted cross-site, spoofed
Host headers, and methods a path does not have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from stateline.settings import Settings

# -- a client that disconnects mid-body ------------------------------------------------


def test_a_client_that_hangs_up_mid_body_is_one_info_line_not_an_error(
    app_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
    with caplog.at_level(logging.DEBUG, logger="stateline.app"):
        # Returns normally: an exception escaping the app is what makes granian log a traceback.
        sent = app_client.asgi("POST", "/api/users", headers, [
            {"type": "http.request", "body": b'{"na', "more_body": True},
        ])
    records = [r for r in caplog.records if r.name == "stateline.app"]
    assert [r.levelno for r in records] == [logging.INFO]
    assert "client disconnected" in records[0].getMessage()
    assert records[0].exc_info is None
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] != 500


# -- emails and names ------------------------------------------------------------------


def _user(app_client: Any, name: str, email: str) -> Any:
    return app_client.post("/api/users", json={"name": name, "email": email})


def test_a_look_alike_of_a_taken_email_is_422_not_a_second_account(
    app_client: Any, unique: str
) -> None:
    email = f"ada-{unique}@example.com"
    assert _user(app_client, "Ada", email).status_code == 201
    assert _user(app_client, "Ada", email).status_code == 409
    for look_alike in (email + "\u200b", "\u200b" + email, email.replace("@", "\u200d@")):
        response = _user(app_client, "Ada", look_alike)
        assert response.status_code == 422, repr(look_alike)
        assert response.json()["error"]["code"] == "invalid_field"


@pytest.mark.parametrize("email", [
    "x\u0000@b.com", "x\x01@b.com", "<script>x@b.com", "x@b.com>", "x@b..com", "x@.b.com",
    "x.@b.com",
])
def test_malformed_emails_are_422(app_client: Any, email: str) -> None:
    response = _user(app_client, "X", email)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_field"


@pytest.mark.parametrize("name", ["Ann\x1b[31mRed", "Ann\x00", "Ann\x9bLee", "Ann\nLee"])
def test_names_with_control_characters_are_422(app_client: Any, unique: str, name: str) -> None:
    response = _user(app_client, name, f"ctl-{unique}@example.com")
    assert response.status_code == 422
    assert "control characters" in response.json()["error"]["message"]


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("a", ["%EF%BC%91", "%D9%A1", "1_000", "%201", "1%20", "0x1"])
def test_calculator_takes_only_ascii_numbers(app_client: Any, a: str) -> None:
    response = app_client.get(f"/api/calc/add?a={a}&b=1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_number"


def test_calculator_reaches_the_int64_lower_bound(app_client: Any) -> None:
    added = app_client.get("/api/calc/add?a=-9223372036854775807&b=-1").json()["result"]
    powered = app_client.get("/api/calc/pow?a=-2&b=63").json()["result"]
    assert added == powered == -(2**63)
    assert isinstance(added, int) and isinstance(powered, int)


@pytest.mark.parametrize("body", [
    b'{"x":1e999,"y":2}', b'{"x":1,"y":-1e999}', b'{"x":1' + b"0" * 400 + b',"y":2}',
])
def test_an_overflowing_coordinate_is_422_invalid_number(app_client: Any, body: bytes) -> None:
    response = app_client.put("/api/players/p-overflow/position", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_number"


@pytest.mark.parametrize("body", [b'{"x":NaN,"y":2}', b'{"x":1e999', b'{"x":Infinity}'])
def test_non_json_with_big_numbers_is_still_400_invalid_json(app_client: Any, body: bytes) -> None:
    response = app_client.put("/api/players/p-overflow/position", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


# -- Content-Type ----------------------------------------------------------------------

_JSON_POSTS = [
    ("POST", "/api/users", b'{"name":"Eve","email":"eve@example.com"}'),
    ("POST", "/api/sessions", b'{"user":"eve"}'),
    ("POST", "/api/carts/eve/items", b'{"sku":"apple","qty":1}'),
    ("PUT", "/api/players/eve/position", b'{"x":1,"y":2}'),
]


@pytest.mark.parametrize(("method", "path", "body"), _JSON_POSTS)
@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None,
    "application/jsonp", "text/json",
])
def test_json_bodies_need_a_json_content_type_else_415(
    app_client: Any, method: str, path: str, body: bytes, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = app_client.request(method, path, content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON",
    "application/merge-patch+json",
])
def test_json_and_plus_json_content_types_are_accepted(
    app_client: Any, unique: str, content_type: str
) -> None:
    response = app_client.put(f"/api/players/ct-{unique}/position", content=b'{"x":1,"y":2}',
                              headers={"content-type": content_type})
    assert response.status_code == 200


# -- paths, hosts and methods ----------------------------------------------------------


def test_a_trailing_slash_is_a_json_404_never_a_redirect_to_the_host_header(
    app_client: Any,
) -> None:
    response = app_client.get("/api/users/", headers={"host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("path", "allowed"), [
    ("/api/users", "GET, HEAD, POST"),
    ("/api/sessions/me", "DELETE, GET, HEAD"),
    ("/api/players/p1/position", "GET, HEAD, PUT"),
    ("/api/images/resize", "POST"),
    ("/api/counter/incr", "POST"),
])
def test_a_405_allows_every_method_of_the_path(app_client: Any, path: str, allowed: str) -> None:
    response = app_client.request("OPTIONS", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_get_on_the_resize_endpoint_is_405_not_an_image_lookup(app_client: Any) -> None:
    response = app_client.get("/api/images/resize")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    not_an_id = app_client.get("/api/images/not-a-blob-id")
    assert not_an_id.status_code == 404
    assert not_an_id.json()["error"]["code"] == "not_found"


# -- start-up against an unreachable database -----------------------------------------


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_database_is_logged_with_its_reason_once_per_few_seconds(
    redis_url: str, settings_for: Callable[..., Settings], run_app: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = f"postgresql://nobody@127.0.0.1:{_unused_port()}/db"
    with caplog.at_level(logging.WARNING, logger="stateline.app"), \
            run_app(settings_for(redis_url, database), "app-nodb", ready=False) as client:
        time.sleep(2.0)  # several retries (0.05 s doubling up to 2 s)
        health = client.get("/_stateline/health").json()
    lines = [r.getMessage() for r in caplog.records
             if r.name == "stateline.app" and "not ready" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "app-nodb not ready: sql store not reachable yet: OperationalError" in lines[0]
    assert "127.0.0.1" in lines[0] and "\n" not in lines[0]
    assert health["status"] == "starting" and "sql store not reachable" in health["detail"]
