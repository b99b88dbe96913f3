"""Header rewriting: hop-by-hop stripping both ways, forwarding headers, request ids."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stateline.gateway.framing import BODY_CHUNKED, BODY_LENGTH, NO_BODY, BodyFraming
from stateline.gateway.headers import (
    _REQUEST_SPECIAL,
    _RESPONSE_SPECIAL,
    REQUEST_FILTER,
    RESPONSE_FILTER,
    RequestHeaders,
    ResponseHeaders,
    connection_tokens,
    forwarded_fields,
    forwarded_proto,
    is_trusted,
    maybe_special,
    name_filter,
    new_request_id,
    request_head,
    request_specials,
    response_head,
)


def parse_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    assert head.endswith(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    return lines[0], [tuple(line.split(b": ", 1)) for line in lines[1:]]  # type: ignore[misc]


def req(headers, framing=NO_BODY, has_connection=None, trusted=False):
    if has_connection is None:
        has_connection = any(n == b"connection" for n, _ in headers)
    return request_head(b"GET", b"/p?q", headers, host=b"h", client_ip=b"10.0.0.9",
                        proto=b"http", framing=framing, has_connection=has_connection,
                        trusted=trusted)


def test_request_line_is_http11_origin_form_with_host() -> None:
    head, _ = req([(b"host", b"h")])
    line, headers = parse_head(head)
    assert line == b"GET /p?q HTTP/1.1"
    assert headers.count((b"host", b"h")) == 1


def test_hop_by_hop_request_headers_are_dropped() -> None:
    head, _ = req([(b"connection", b"close, x-private"), (b"keep-alive", b"5"),
                   (b"proxy-connection", b"keep-alive"), (b"upgrade", b"websocket"),
                   (b"proxy-authorization", b"Basic x"), (b"te", b"gzip"),
                   (b"x-private", b"secret"), (b"x-kept", b"1")])
    names = [n for n, _ in parse_head(head)[1]]
    for gone in (b"connection", b"keep-alive", b"proxy-connection", b"upgrade",
                 b"proxy-authorization", b"te", b"x-private"):
        assert gone not in names
    assert b"x-kept" in names


def test_te_trailers_is_kept() -> None:
    head, _ = req([(b"te", b"trailers")])
    assert (b"te", b"trailers") in parse_head(head)[1]


def test_x_forwarded_for_from_a_trusted_proxy_is_appended_to_and_proto_set() -> None:
    head, _ = req([(b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"2.2.2.2"),
                   (b"x-forwarded-proto", b"https")], trusted=True)
    headers = parse_head(head)[1]
    assert (b"x-forwarded-for", b"1.1.1.1, 2.2.2.2, 10.0.0.9") in headers
    assert [v for n, v in headers if n == b"x-forwarded-proto"] == [b"http"]


@pytest.mark.parametrize("value", [b"1.1.1.1", b"garbage, <script>", b"", b"127.0.0.1, ::1"])
def test_x_forwarded_for_from_anyone_else_is_replaced_by_the_peer(value: bytes) -> None:
    """A client could otherwise claim any address to an app that trusts the header."""
    head, _ = req([(b"x-forwarded-for", value), (b"X-Forwarded-For", b"6.6.6.6")])
    headers = parse_head(head)[1]
    assert [v for n, v in headers if n.lower() == b"x-forwarded-for"] == [b"10.0.0.9"]


@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_and_x_served_by_never_reach_the_app(trusted: bool) -> None:
    head, _ = req([(b"Forwarded", b"for=1.2.3.4;proto=https"), (b"X-Served-By", b"forged"),
                   (b"x-served-by", b"again"), (b"forwarded", b"by=x"), (b"x-kept", b"1")],
                  trusted=trusted)
    names = [n.lower() for n, _ in parse_head(head)[1]]
    assert b"forwarded" not in names and b"x-served-by" not in names
    assert b"x-kept" in names


@pytest.mark.parametrize("value", [b"a" * 129, b"id with space", b"id\x7f", b"<id>", b"a\"b",
                                   b"id;drop", b"id%0d%0a", "ü".encode()])
def test_a_request_id_that_is_too_long_or_odd_is_replaced(value: bytes) -> None:
    _, rid = req([(b"x-request-id", value)])
    assert rid != value and len(rid) <= 128


@pytest.mark.parametrize("value", [b"a" * 128, b"0f8fad5b-d9cb-469f-a165-70867728950e",
                                   b"req_42.x:y", b"abc+/="])
def test_a_sane_request_id_is_kept(value: bytes) -> None:
    head, rid = req([(b"x-request-id", value)])
    assert rid == value and (b"x-request-id", value) in parse_head(head)[1]


def test_client_request_id_is_kept_and_a_missing_one_created() -> None:
    head, rid = req([(b"x-request-id", b"abc-123")])
    assert rid == b"abc-123" and (b"x-request-id", b"abc-123") in parse_head(head)[1]
    head, rid = req([])
    assert rid and (b"x-request-id", rid) in parse_head(head)[1]


def test_an_unprintable_or_huge_request_id_is_replaced() -> None:
    _, rid = req([(b"x-request-id", b"a b")])
    assert rid != b"a b"
    _, rid = req([(b"x-request-id", b"a" * 500)])
    assert len(rid) < 100


def test_request_ids_are_unique() -> None:
    assert len({new_request_id() for _ in range(1000)}) == 1000


def test_request_body_framing_is_set_by_the_gateway() -> None:
    head, _ = req([(b"content-length", b"99"), (b"transfer-encoding", b"x")],
                  framing=BodyFraming(BODY_LENGTH, 7))
    headers = parse_head(head)[1]
    assert (b"content-length", b"7") in headers
    assert not any(n == b"transfer-encoding" for n, _ in headers)
    head, _ = req([], framing=BodyFraming(BODY_CHUNKED))
    assert (b"transfer-encoding", b"chunked") in parse_head(head)[1]


def resp(headers, **kw):
    args = dict(served_by=b"i1", request_id=b"r1", content_length=b"2", chunked=False,
                keep_alive=True, http10_client=False)
    args.update(kw)
    return parse_head(response_head(200, headers, **args))


def test_response_hop_by_hop_headers_are_dropped_and_served_by_added() -> None:
    line, headers = resp([(b"connection", b"keep-alive, x-hop"), (b"x-hop", b"1"),
                          (b"keep-alive", b"timeout=5"), (b"transfer-encoding", b"chunked"),
                          (b"x-served-by", b"spoofed"), (b"x-app", b"1")])
    assert line == b"HTTP/1.1 200 OK"
    names = [n for n, _ in headers]
    assert b"x-hop" not in names and b"keep-alive" not in names and b"connection" not in names
    assert headers.count((b"x-served-by", b"i1")) == 1
    assert (b"x-served-by", b"spoofed") not in headers
    assert (b"x-app", b"1") in headers and (b"x-request-id", b"r1") in headers


def test_response_framing_and_connection_follow_the_gateway_decision() -> None:
    headers = resp([], content_length=None, chunked=True, keep_alive=False)[1]
    assert (b"transfer-encoding", b"chunked") in headers and (b"connection", b"close") in headers
    headers = resp([], http10_client=True)[1]
    assert (b"connection", b"keep-alive") in headers and (b"content-length", b"2") in headers


def test_an_upstream_request_id_in_the_response_is_not_duplicated() -> None:
    headers = resp([(b"x-request-id", b"up")])[1]
    assert [v for n, v in headers if n == b"x-request-id"] == [b"up"]


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10)


@given(st.lists(_token, max_size=5))
def test_every_header_named_in_connection_is_dropped(names: list[str]) -> None:
    listed = [b"x-tok-" + n.encode() for n in names]
    value = b", ".join(n.upper() for n in listed)
    headers = [(b"connection", value), *((n, b"v") for n in listed), (b"x-always", b"1")]
    assert connection_tokens(headers) == frozenset(listed)
    kept = [n for n, _ in parse_head(req(headers)[0])[1]]
    assert not set(listed) & set(kept)
    assert b"x-always" in kept


@pytest.mark.parametrize(("value", "expected"), [
    (b"https", b"https"), (b" HTTPS ", b"https"), (b"http", b"http"), (b"gopher", b"http"),
])
def test_a_trusted_forwarded_proto_is_kept_only_when_it_is_http_or_https(
        value: bytes, expected: bytes) -> None:
    assert forwarded_proto([(b"x-forwarded-proto", value)], b"http") == expected
    assert forwarded_proto([(b"host", b"x")], b"http") == b"http"


def test_trusted_proxies_match_by_network_including_v4_mapped_v6() -> None:
    nets = [ip_network("10.0.0.0/8"), ip_network("::1/128")]
    assert is_trusted("10.2.3.4", nets) and is_trusted("::ffff:10.0.0.1", nets)
    assert is_trusted("::1", nets)
    assert not is_trusted("11.0.0.1", nets) and not is_trusted("unknown", nets)
    assert not is_trusted("10.0.0.1", [])


# -- the name filter: a shortcut that must never miss a special name ---------------------

_SPECIAL_NAMES = sorted(_REQUEST_SPECIAL | _RESPONSE_SPECIAL | {b"x-some-configured-key"})


def _spellings(name: bytes) -> list[bytes]:
    return [name, name.upper(), name.title(), name.swapcase()]


@pytest.mark.parametrize("name", _SPECIAL_NAMES)
def test_the_name_filter_lets_every_spelling_of_a_special_name_through(name: bytes) -> None:
    table = name_filter(frozenset(_SPECIAL_NAMES))
    for spelling in _spellings(name):
        assert maybe_special(table, spelling), spelling


@given(st.sets(st.binary(min_size=1, max_size=80), max_size=12),
       st.binary(min_size=0, max_size=80))
def test_the_name_filter_has_no_false_negatives(names: set[bytes], candidate: bytes) -> None:
    lowered = frozenset(n.lower() for n in names)
    table = name_filter(lowered)
    if candidate.lower() in lowered:
        assert maybe_special(table, candidate)


def test_the_name_filter_rules_out_common_plain_fields() -> None:
    # The point of the filter: these skip lower-casing and hashing on every message.
    for table in (REQUEST_FILTER, RESPONSE_FILTER):
        for name in (b"Server", b"Date", b"Content-Type", b"User-Agent", b"Accept",
                     b"Cache-Control", b"ETag", b"Vary"):
            assert not maybe_special(table, name), name


def test_a_configured_idempotency_header_is_special_for_its_collector() -> None:
    special = request_specials(b"x-retry-key")
    collected = RequestHeaders(b"x-retry-key", special)
    collected.add(b"X-Retry-Key", b"abc")
    collected.add(b"X-Other", b"1")
    assert collected.specials == [(b"x-retry-key", b"abc")]
    head, _ = collected.head(b"POST", b"/p", b"h", b"10.0.0.9", b"http", NO_BODY, False)
    assert b"X-Retry-Key: abc\r\n" in head and b"X-Other: 1\r\n" in head


def test_response_fields_are_sorted_the_same_in_any_spelling() -> None:
    for spell in (bytes.lower, bytes.upper, bytes.title):
        collected = ResponseHeaders()
        for name, value in ((b"content-length", b"5"), (b"transfer-encoding", b"chunked"),
                            (b"connection", b"x-hop"), (b"upgrade", b" websocket "),
                            (b"x-request-id", b"rid-1"), (b"keep-alive", b"timeout=5"),
                            (b"x-served-by", b"other"), (b"content-type", b"text/plain")):
            collected.add(spell(name), value)
        assert collected.content_length == b"5"
        assert collected.transfer_encoding
        assert collected.connection == [(b"connection", b"x-hop")]
        assert collected.upgrade == [b"websocket"]
        assert collected.has_request_id
        kept = [p.lower() for p in collected.pieces[1::4]]
        assert kept == [b"x-request-id", b"content-type"]


def test_a_precomputed_forwarded_piece_gives_the_same_head() -> None:
    fields = [(b"Host", b"h"), (b"Accept", b"*/*"), (b"X-Request-ID", b"abc")]
    heads = []
    for forwarded in (None, forwarded_fields(b"10.0.0.9", b"https")):
        collected = RequestHeaders()
        for name, value in fields:
            collected.add(name, value)
        heads.append(collected.head(b"GET", b"/p", b"h", b"10.0.0.9", b"https", NO_BODY, False,
                                    False, forwarded))
    assert heads[0] == heads[1]
    assert b"x-forwarded-for: 10.0.0.9\r\nx-forwarded-proto: https\r\nx-request-id: abc\r\n" \
        in heads[0][0]


def test_request_ids_count_up_in_hex_after_the_process_prefix() -> None:
    a, b = new_request_id(), new_request_id()
    prefix_a, _, n_a = a.rpartition(b"-")
    prefix_b, _, n_b = b.rpartition(b"-")
    assert prefix_a == prefix_b and len(prefix_a) == 12
    assert int(n_b, 16) == int(n_a, 16) + 1


def test_a_forked_process_hands_out_request_ids_of_its_own() -> None:
    # --workers N forks after the gateway's modules were imported.
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id, and leave without running pytest's teardown
        try:
            os.write(write_end, new_request_id())
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 200)
    os.close(read_end)
    os.waitpid(pid, 0)
    mine = new_request_id()
    assert child_id and child_id.rpartition(b"-")[0] != mine.rpartition(b"-")[0]
