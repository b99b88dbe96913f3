"""The supervisor's control socket: ``DATA_DIR/control.sock``, one JSON object per line.

``stateline status|scale|kill|down`` and the lab's experiments talk to a
running ``stateline up`` through it. The protocol (docs/architecture.md):

=================================  ==================================================
request                            response
=================================  ==================================================
``{"cmd": "status"}``              ``{"ok": true, "processes": [...], "gateway_url",
                                   "redis_url", "database_url"}``
``{"cmd": "scale", "apps": N}``    ``{"ok": true, "apps": N}``
``{"cmd": "scale", "shards": N}``  ``{"ok": true, "shards": N}`` (rooms shards)
``{"cmd": "kill", "id": "app-2"}`` ``{"ok": true, "pid": ...}``
``{"cmd": "restart", "id": "app-2"}`` ``{"ok": true, "pid": ...}`` once it is healthy
``{"cmd": "down"}``                ``{"ok": true}``, then a clean shutdown
=================================  ==================================================

A failed request answers ``{"ok": false, "error": {"code", "message"}}``.
:func:`parse_request` is the pure validation core; :class:`ControlServer` and
:class:`ControlClient` are the thin socket layers around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stateline.local.limits import MAX_APPS, MIN_APPS, apps_problem, shards_problem

SOCKET_NAME = "control.sock"
COMMANDS = ("status", "scale", "kill", "restart", "down")
#: sun_path holds 108 bytes; longer paths are reached through /proc/self/fd.
_SUN_PATH_MAX = 100


class ControlError(RuntimeError):
    """The supervisor refused a request, or could not be reached."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotRunning(ControlError):
    """No supervisor listens on the data dir's socket.

    The message names the data dir as an absolute path: the default
    ``.stateline`` is relative, so from another directory "nothing is running
    on .stateline" hid the real cause -- the command looked in the wrong place.
    """

    def __init__(self, data_dir: Path) -> None:
        flag = "" if str(data_dir) in (".stateline", "./.stateline") else f" --data-dir {data_dir}"
        super().__init__(
            "not_running",
            f"nothing is running on {Path(data_dir).resolve()}; start it with "
            f"`stateline up{flag}`, or, if it runs from another directory, pass "
            "--data-dir DIR or set STATELINE_DATA_DIR")


@dataclass(frozen=True)
class Request:
    cmd: str
    apps: int | None = None
    id: str | None = None
    shards: int | None = None


def parse_request(obj: Any) -> Request:
    """Validate one decoded request; raises :class:`ControlError` (code ``bad_request``)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("cmd"), str):
        raise ControlError("bad_request", 'a request is a JSON object with a "cmd" string')
    cmd = obj["cmd"]
    if cmd in ("status", "down"):
        return Request(cmd)
    if cmd == "scale" and "shards" in obj:
        shards = obj.get("shards")
        if not isinstance(shards, int) or isinstance(shards, bool):
            raise ControlError("bad_request", '"shards" must be an integer')
        if problem := shards_problem(shards):
            raise ControlError("bad_request", problem)
        return Request(cmd, shards=shards)
    if cmd == "scale":
        apps = obj.get("apps")
        if not isinstance(apps, int) or isinstance(apps, bool):
            raise ControlError("bad_request", f'"apps" must be an integer from {MIN_APPS} '
                               f"to {MAX_APPS}")
        if problem := apps_problem(apps):
            raise ControlError("bad_request", problem)
        return Request(cmd, apps=apps)
    if cmd in ("kill", "restart"):
        ident = obj.get("id")
        if not isinstance(ident, str) or not ident:
            raise ControlError("bad_request", f'"{cmd}" needs an "id" such as "app-1", '
                               '"gateway" or "redis-2"')
        return Request(cmd, id=ident)
    raise ControlError("unknown_command", f"unknown command {cmd!r} "
                       f"(known: {', '.join(COMMANDS)})")


def error_response(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _short_path(path: Path) -> tuple[str, int | None]:
    """A path to bind/connect that fits sun_path, and a dir fd to close afterwards."""
    text = str(path)
    if len(text.encode()) <= _SUN_PATH_MAX:
        return text, None
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{path.name}", fd


Handler = Callable[[Request], Awaitable[dict[str, Any]]]


class ControlServer:
    """Serves the control socket inside the supervisor's event loop."""

    def __init__(self, data_dir: Path, handler: Handler) -> None:
        self.path = Path(data_dir) / SOCKET_NAME
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        # Only a live supervisor holds the data dir lock, so a socket file here is stale.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        short, fd = _short_path(self.path)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=short)
        finally:
            if fd is not None:
                os.close(fd)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                response = await self._answer(line)
                writer.write(json.dumps(response).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            # The supervisor is exiting (after `down`, say) while a client still
            # holds its connection: ending quietly is the whole point here.
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = parse_request(json.loads(line))
        except json.JSONDecodeError:
            return error_response("bad_request", "a request is one JSON object per line")
        except ControlError as exc:
            return error_response(exc.code, exc.message)
        try:
            return await self._handler(request)
        except ControlError as exc:
            return error_response(exc.code, exc.message)


class ControlClient:
    """Talks to the supervisor of ``data_dir``; used by the CLI and the lab.

    :meth:`call` returns the response of a successful request and raises
    :class:`ControlError` for a refused one (:class:`NotRunning` when no
    supervisor listens).
    """

    def __init__(self, data_dir: Path | str, timeout: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.timeout = timeout

    @property
    def path(self) -> Path:
        return self.data_dir / SOCKET_NAME

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.path.exists():
            raise NotRunning(self.data_dir)
        short, fd = _short_path(self.path)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                try:
                    sock.connect(short)
                except (ConnectionRefusedError, FileNotFoundError):
                    raise NotRunning(self.data_dir) from None
                sock.sendall(json.dumps(request).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except TimeoutError:
            raise ControlError("timeout", f"the supervisor did not answer within "
                               f"{self.timeout:g}s") from None
        finally:
            if fd is not None:
                os.close(fd)
        if not data:
            raise ControlError("no_answer", "the supervisor closed the connection "
                               "without answering (is it shutting down?)")
        response: dict[str, Any] = json.loads(data)
        if not response.get("ok"):
            err = response.get("error") or {}
            raise ControlError(str(err.get("code", "error")), str(err.get("message", response)))
        return response

    def is_running(self) -> bool:
        try:
            self.call({"cmd": "status"})
        except ControlError:
            return False
        return True
