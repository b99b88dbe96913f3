"""ControlServer and ControlClient over a real Unix socket."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from stateline.local.control import ControlClient, ControlError, ControlServer, NotRunning, Request


class ServerThread:
    """A control server on its own event loop, answering like a tiny supervisor."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.seen: list[Request] = []
        self.loop = asyncio.new_event_loop()
        self.server = ControlServer(data_dir, self.handle)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def handle(self, req: Request) -> dict[str, Any]:
        self.seen.append(req)
        if req.cmd == "kill":
            raise ControlError("unknown_id", f"no process {req.id!r}")
        return {"ok": True, "echo": req.cmd}

    def __enter__(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def deep_dir(tmp_path: Path) -> Path:
    """A data dir whose socket path is longer than sun_path's 108 bytes."""
    d = tmp_path / ("d" * 60) / ("e" * 60)
    d.mkdir(parents=True)
    return d


def test_requests_and_refusals_round_trip(tmp_path: Path) -> None:
    with ServerThread(tmp_path) as server:
        client = ControlClient(tmp_path)
        assert client.call({"cmd": "status"}) == {"ok": True, "echo": "status"}
        with pytest.raises(ControlError) as err:
            client.call({"cmd": "kill", "id": "app-7"})
        assert err.value.code == "unknown_id"
        with pytest.raises(ControlError) as bad:
            client.call({"cmd": "scale", "apps": "many"})
        assert bad.value.code == "bad_request"
        assert [r.cmd for r in server.seen] == ["status", "kill"]
    assert not (tmp_path / "control.sock").exists()


def test_socket_works_under_a_path_too_long_for_sun_path(deep_dir: Path) -> None:
    assert len(str(deep_dir / "control.sock")) > 108
    with ServerThread(deep_dir):
        assert ControlClient(deep_dir).is_running()


def test_client_without_a_server_says_nothing_is_running(tmp_path: Path) -> None:
    with pytest.raises(NotRunning, match="nothing is running on"):
        ControlClient(tmp_path).call({"cmd": "status"})
    (tmp_path / "control.sock").write_text("")  # a stale file, no listener
    with pytest.raises(NotRunning):
        ControlClient(tmp_path).call({"cmd": "status"})
