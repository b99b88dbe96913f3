"""The load generator against a real server process (a tiny HTTP/1.1 server below)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from stateline.lab.loadgen import LoadConfig, run_load
from stateline.lab.mix import parse_mix
from stateline.local.procs import free_port, wait_port

# A tiny keep-alive server with behaviours chosen by path.
SERVER = textwrap.dedent('''
    import asyncio, sys
    port = int(sys.argv[1])
    paused = None
    async def handle(reader, writer):
        global paused
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                path = head.split(b" ", 2)[1]
                if path == b"/pause":
                    paused = asyncio.get_running_loop().create_future()
                    asyncio.get_running_loop().call_later(0.5, paused.set_result, None)
                elif paused is not None and not paused.done():
                    await paused
                if path == b"/reset":
                    writer.transport.abort(); return
                if path == b"/hang":
                    await asyncio.sleep(3600)
                status = int(path[8:]) if path.startswith(b"/status/") else 200
                close = path == b"/close"
                writer.write(b"HTTP/1.1 %d X\\r\\nContent-Length: 2\\r\\nX-Served-By: tiny\\r\\n"
                             % status + (b"Connection: close\\r\\n" if close else b"")
                             + b"\\r\\nok")
                if close:
                    await writer.drain(); writer.close(); return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port)
        async with srv:
            await srv.serve_forever()
    asyncio.run(main())
''')


@pytest.fixture(scope="module")
def tiny() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(5)


def test_open_loop_sends_at_the_asked_rate_and_counts_instances(tiny):
    r = run_load(LoadConfig(f"{tiny}/ping", rate=500, duration=2.0))
    assert r["failed"] == 0
    assert r["requests"] == 1000
    assert r["instances"] == {"tiny": 1000}
    assert 400 < r["throughput_rps"] <= 510
    assert len(r["timeline"]) >= 2 and r["timeline"][0]["requests"] > 0
    assert 0 < r["latency"]["p50_ms"] < r["latency"]["max_ms"]


def test_closed_loop_keeps_each_connection_busy(tiny):
    r = run_load(LoadConfig(f"{tiny}/ping", connections=4, duration=1.0))
    assert r["mode"] == "closed" and r["connections"] == 4
    assert r["failed"] == 0 and r["requests"] > 500


def test_a_stall_shows_in_open_loop_latency_from_the_intended_send_time(tiny):
    def pause_later() -> None:
        time.sleep(1.0)
        urllib.request.urlopen(f"{tiny}/pause", timeout=5).read()

    t = threading.Thread(target=pause_later)
    t.start()
    r = run_load(LoadConfig(f"{tiny}/ping", rate=200, duration=2.5, connections=8))
    t.join()
    # Nothing is lost while the server stalls: every intended request is sent and measured,
    # and those due during the pause carry up to ~0.5 s of waiting.
    assert r["failed"] == 0 and r["requests"] == 500
    assert r["latency"]["max_ms"] > 350
    assert r["latency"]["p99_ms"] > 250


def test_errors_are_counted_by_kind(tiny):
    mix = parse_mix([{"path": "/status/503", "weight": 1}, {"path": "/status/404", "weight": 1},
                     {"path": "/reset", "weight": 1}, {"path": "/hang", "weight": 1}])
    r = run_load(LoadConfig(tiny, rate=40, duration=1.0, mix=mix, timeout=0.3, seed=5))
    assert set(r["errors"]) == {"http_503", "http_404", "reset", "timeout"}
    assert r["failed"] == r["requests"] == 40


def test_refused_connections_count_as_connect_errors():
    r = run_load(LoadConfig(f"http://127.0.0.1:{free_port()}/", rate=50, duration=0.5,
                            connections=2, timeout=1.0))
    assert r["errors"].get("connect", 0) > 0 and r["ok"] == 0


def test_connection_close_responses_reconnect_without_errors(tiny):
    r = run_load(LoadConfig(f"{tiny}/close", rate=100, duration=1.0, connections=4))
    assert r["failed"] == 0 and r["requests"] == 100


def test_bench_command_prints_json(tiny, stateline_cmd):
    out = subprocess.run([*stateline_cmd, "bench", f"{tiny}/ping", "--rate", "100",
                          "--duration", "1", "--json"], capture_output=True, text=True,
                         timeout=60, check=True)
    data = json.loads(out.stdout)
    assert data["requests"] == 100 and data["failed"] == 0
    assert set(data["latency"]) >= {"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"}


def test_bench_command_prints_a_table(tiny, stateline_cmd):
    out = subprocess.run([*stateline_cmd, "bench", f"{tiny}/ping", "-c", "2",
                          "--duration", "0.5"], capture_output=True, text=True, timeout=60,
                         check=True)
    assert "throughput" in out.stdout and "latency p99.9" in out.stdout
    assert "served by tiny" in out.stdout


def test_bench_command_refuses_bad_input_with_a_message(stateline_cmd):
    out = subprocess.run([*stateline_cmd, "bench", "ftp://x/", "--rate", "10"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "http://" in out.stderr


def test_keyed_writes_that_are_not_replayed_count_as_duplicates(tiny):
    """The tiny server knows no keys: every repeat is applied again."""
    mix = parse_mix([{"name": "w", "method": "POST", "path": "/ping"}])
    r = run_load(LoadConfig(tiny, mix=mix, connections=2, duration=0.5,
                            idempotency_keys=True, repeat=1.0))
    keyed = r["idempotency"]
    assert keyed["keyed"] > 0 and keyed["repeats"] > 0
    assert keyed["duplicates"] == keyed["repeats"] and keyed["replays"] == 0


@pytest.mark.slow
def test_the_app_replays_every_repeated_keyed_write(redis_url, tmp_path, stateline_cmd):
    import os

    import httpx

    port = free_port()
    env = {**os.environ, "STATELINE_REDIS_URL": redis_url, "STATELINE_DATA_DIR": str(tmp_path)}
    env.pop("STATELINE_REGISTRY_URL", None)
    proc = subprocess.Popen([*stateline_cmd, "app", "--host", "127.0.0.1", "--port", str(port),
                             "--instance-id", "app-bench"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "app did not start"
            try:
                if httpx.get(f"{url}/_stateline/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        mix = parse_mix([
            {"name": "incr", "method": "POST", "path": "/api/counter/incr"},
            {"name": "add", "method": "POST", "path": "/api/carts/{user}/items",
             "json": {"sku": "s{rand:5}", "qty": "{rand:1:3}"}},
        ])
        r = run_load(LoadConfig(url, mix=mix, connections=2, duration=1.0,
                                idempotency_keys=True, repeat=0.5, seed=1))
    finally:
        proc.kill()
        proc.wait(10)
    keyed = r["idempotency"]
    assert keyed["repeats"] > 0
    assert keyed["replays"] == keyed["repeats"] and keyed["duplicates"] == 0


def test_a_listener_gets_ticks_of_the_running_load(tiny):
    from stateline.lab.progress import listening

    ticks = []
    with listening(ticks.append):
        r = run_load(LoadConfig(f"{tiny}/ping", rate=200, duration=2.0, label="probe"))
    assert r["failed"] == 0
    assert ticks, "no tick reported during a 2 s load"
    assert {t.label for t in ticks} == {"probe"} and {t.total for t in ticks} == {2.0}
    assert [t.t for t in ticks] == sorted(t.t for t in ticks)
    assert all(0 <= t.fraction <= 1 and t.errors == 0 for t in ticks)
    assert max(t.rps for t in ticks) > 0


def test_bench_progress_file_has_ticks_and_the_figures(tiny, stateline_cmd, tmp_path):
    path = tmp_path / "run.jsonl"
    subprocess.run([*stateline_cmd, "bench", f"{tiny}/ping", "--rate", "100",
                    "--duration", "1.5", "--json", "--progress-file", str(path)],
                   capture_output=True, text=True, timeout=60, check=True)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["kind"] for r in records} == {"tick", "done"} and records[-1]["kind"] == "done"
    assert records[-1]["headline"]["requests"] == 150
    assert records[-1]["text"].startswith("150 requests, 0 failed")
    assert all(r["total"] == 1.5 for r in records if r["kind"] == "tick")
