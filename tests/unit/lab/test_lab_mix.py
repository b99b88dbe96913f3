import json
import random

import httptools
import pytest

from stateline.lab.mix import DEFAULT_MIX, MixError, default_mix, load_mix, parse_mix, single


class _Req:
    def __init__(self):
        self.headers = {}
        self.body = b""
        self.url = b""
        self.done = False

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers[name.lower()] = value

    def on_body(self, body):
        self.body += body

    def on_message_complete(self):
        self.done = True


def parse_request(raw: bytes) -> tuple[str, _Req]:
    req = _Req()
    p = httptools.HttpRequestParser(req)
    p.feed_data(raw)
    assert req.done
    return p.get_method().decode(), req


def test_templates_are_filled_in_path_and_json_body_with_numbers_as_numbers():
    mix = parse_mix({"users": 5, "requests": [
        {"method": "POST", "path": "/api/carts/{user}/items",
         "json": {"sku": "sku-{rand:3}", "qty": "{rand:1:2}"}}]}).with_target("h:1")
    rng = random.Random(1)
    for _ in range(50):
        method, req = parse_request(mix.render(mix.choose(rng), rng))
        assert method == "POST"
        user = req.url.decode().split("/")[3]
        assert user.startswith("u") and 0 <= int(user[1:]) < 5
        body = json.loads(req.body)
        assert body["sku"] in {"sku-0", "sku-1", "sku-2"}
        assert body["qty"] in (1, 2)
        assert req.headers[b"content-type"] == b"application/json"
        assert int(req.headers[b"content-length"]) == len(req.body)
        assert req.headers[b"host"] == b"h:1"


def test_weights_decide_the_share_of_each_request():
    mix = parse_mix([{"name": "a", "weight": 9, "path": "/a"},
                     {"name": "b", "weight": 1, "path": "/b"}])
    rng = random.Random(2)
    picks = [mix.choose(rng).name for _ in range(10000)]
    assert 0.87 < picks.count("a") / len(picks) < 0.93


def test_choice_template_and_base_path_prefix():
    mix = parse_mix([{"path": "/x/{choice:red|blue}"}]).with_target("h", "/base/")
    rng = random.Random(3)
    seen = {parse_request(mix.render(mix.choose(rng), rng))[1].url for _ in range(40)}
    assert seen == {b"/base/x/red", b"/base/x/blue"}


def test_a_request_without_templates_is_rendered_once_and_reused():
    mix = single("GET", "/ping").with_target("127.0.0.1:9")
    t = mix.requests[0]
    assert mix.render(t, random.Random()) is mix.render(t, random.Random())
    assert mix.render(t, random.Random()) == b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"


def test_expect_lists_the_statuses_that_count_as_success():
    mix = parse_mix([{"path": "/p", "expect": [200, 404]}, {"path": "/q"}])
    assert mix.requests[0].ok(404) and not mix.requests[0].ok(500)
    assert mix.requests[1].ok(201) and mix.requests[1].ok(302) and not mix.requests[1].ok(404)


def test_png_body_is_a_real_png_of_the_asked_size():
    from io import BytesIO

    from PIL import Image

    mix = parse_mix([{"method": "POST", "path": "/api/images/resize", "png": [40, 30]}])
    body = mix.requests[0].body
    assert Image.open(BytesIO(body)).size == (40, 30)


def test_default_mix_covers_every_service_and_renders():
    mix = default_mix().with_target("gw")
    prefixes = {r["path"].split("?")[0].split("/")[2] for r in DEFAULT_MIX["requests"]}
    assert prefixes >= {"calc", "currency", "images", "users", "carts", "counter", "sessions",
                        "players"}
    rng = random.Random(4)
    for _ in range(200):
        parse_request(mix.render(mix.choose(rng), rng))


def test_mix_file_in_yaml_is_loaded(tmp_path):
    f = tmp_path / "mix.yaml"
    f.write_text("users: 3\nrequests:\n  - {path: /a, weight: 2}\n  - {path: '/b/{user}'}\n")
    mix = load_mix(f)
    assert [r.weight for r in mix.requests] == [2.0, 1.0]


@pytest.mark.parametrize("bad, words", [
    ([], "non-empty"),
    ([{"path": "no-slash"}], "path"),
    ([{"path": "/a", "method": "BREW"}], "method"),
    ([{"path": "/a", "weight": 0}], "weight"),
    ([{"path": "/a", "json": {}, "body": "x"}], "only one"),
    ([{"path": "/a", "png": [0, 10]}], "png"),
    ([{"path": "/a", "headers": {"X": "a\r\nb"}}], "header"),
    ([{"path": "/a", "expect": "200"}], "expect"),
    ([{"path": "/{rand:0}"}], "rand"),
    ({"users": 0, "requests": [{"path": "/a"}]}, "users"),
])
def test_bad_mixes_are_refused_with_a_reason(bad, words):
    with pytest.raises(MixError, match=words):
        parse_mix(bad)


def test_unreadable_mix_file_is_a_mix_error(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("requests: [unclosed")
    with pytest.raises(MixError):
        load_mix(f)
