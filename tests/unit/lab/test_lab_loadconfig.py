import pytest

from stateline.lab.loadgen import OPEN_LOOP_CONNECTIONS, LoadConfig
from stateline.lab.mix import parse_mix


def test_a_url_without_path_gets_the_default_stateline_mix():
    mix = LoadConfig("http://127.0.0.1:8080", rate=10).resolved_mix()
    assert len(mix.requests) > 5 and mix.host == "127.0.0.1:8080"


def test_a_url_with_a_path_gets_exactly_that_get():
    mix = LoadConfig("http://127.0.0.1:8080/api/calc/add?a=1&b=2", rate=10).resolved_mix()
    assert [r.name for r in mix.requests] == ["GET /api/calc/add?a=1&b=2"]


def test_a_given_mix_is_aimed_at_the_url_and_its_path_prefix():
    mix = parse_mix([{"path": "/x"}])
    resolved = LoadConfig("http://h:1/base", rate=1, mix=mix).resolved_mix()
    assert resolved.host == "h:1" and resolved.base_path == "/base"


def test_open_loop_defaults_to_a_connection_cap_and_closed_loop_to_sixteen():
    assert LoadConfig("http://h:1/", rate=5).n_connections == OPEN_LOOP_CONNECTIONS
    assert LoadConfig("http://h:1/").n_connections == 16
    assert LoadConfig("http://h:1/", connections=3).n_connections == 3
    assert LoadConfig("http://h/").port == 80


@pytest.mark.parametrize("kwargs", [
    {"url": "https://h/"}, {"url": "h:80"}, {"url": "http://h/", "duration": 0},
    {"url": "http://h/", "rate": -1}, {"url": "http://h/", "connections": 0}])
def test_bad_load_configs_are_refused(kwargs):
    with pytest.raises(ValueError):
        LoadConfig(**kwargs)
