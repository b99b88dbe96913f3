"""Path normalisation before routing and rate limiting (issue 10, item 4)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stateline.gateway.framing import FramingError
from stateline.gateway.paths import normalise_path, normalise_target, remove_dot_segments
from stateline.gateway.routes import Route, Router


@pytest.mark.parametrize("raw,normal", [
    (b"/api/%63arts/x", b"/api/carts/x"),
    (b"/%61pi/carts/x", b"/api/carts/x"),
    (b"/api/./carts/x", b"/api/carts/x"),
    (b"/x/../api/carts/x", b"/api/carts/x"),
    (b"/x/%2e%2E/api/carts/x", b"/api/carts/x"),
    (b"/../../api/carts", b"/api/carts"),
    (b"/a/b/..", b"/a/"),
    (b"/a/b/.", b"/a/b/"),
    (b"/a/%7e%5fb", b"/a/~_b"),
    (b"/a/%e2%82%ac", b"/a/%E2%82%AC"),  # not unreserved: kept, hex upper-cased
    (b"/a%20b", b"/a%20b"),
    (b"/.well-known/x", b"/.well-known/x"),
    (b"/plain/path", b"/plain/path"),
])
def test_paths_are_normalised(raw: bytes, normal: bytes) -> None:
    assert normalise_path(raw) == normal


@pytest.mark.parametrize("raw", [b"/api/carts%2Fx", b"/api%2fcarts", b"/%2F"])
def test_an_encoded_slash_is_refused(raw: bytes) -> None:
    with pytest.raises(FramingError) as e:
        normalise_path(raw)
    assert (e.value.status, e.value.code) == (400, "encoded_slash")


@pytest.mark.parametrize("raw", [b"/a%", b"/a%2", b"/a%zz", b"/%g0/x"])
def test_a_malformed_escape_is_refused(raw: bytes) -> None:
    with pytest.raises(FramingError) as e:
        normalise_path(raw)
    assert (e.value.status, e.value.code) == (400, "bad_path")


def test_the_query_is_left_alone() -> None:
    assert normalise_target(b"/%61/./b?x=%2F&y=../z") == (b"/a/b?x=%2F&y=../z", b"/a/b")


_SEGMENT = st.sampled_from(["api", "carts", "x", ".", "..", "%63arts", "%2e", "%2E%2e", "%61pi",
                            "", "a%20b"])


@given(st.lists(_SEGMENT, max_size=8))
def test_normalising_is_idempotent_and_agrees_with_the_app_on_the_route(segments) -> None:
    """Whatever the spelling, the route the gateway picks is the route of the app's view."""
    raw = ("/" + "/".join(segments)).encode()
    once = normalise_path(raw)
    assert normalise_path(once) == once
    assert b"/./" not in once and b"/../" not in once
    # the app's view: every escape decoded, then dot segments resolved
    app_view = remove_dot_segments(unquote(raw.decode()).encode())
    router = Router([Route(b"/api/carts", "carts"), Route(b"/", "rest")])
    assert router.match(once).pool == router.match(app_view).pool
