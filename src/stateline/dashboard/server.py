"""The dashboard's HTTP server: a page, its assets, a snapshot stream and guarded controls.

It runs inside the supervisor's own asyncio loop (``stateline up``), not as a
child: the controls *are* the supervisor's control handler (the same code path
as ``stateline kill``), and the snapshot reads the supervisor's live state
without a socket round trip per row. It is a few dozen lines of HTTP/1.1 on
``asyncio.start_server``: GETs and small JSON POSTs, one connection per
request (``Connection: close``), which is all a local page needs.

Routes: ``GET /`` (the page), ``GET /static/<file>``, ``GET /api/state`` (one
snapshot), ``GET /api/events`` (SSE, one snapshot a second), ``GET
/api/experiments`` (what the page may start), ``POST /api/control``
(``{"cmd": "kill"|"restart"|"scale", ...}``), ``POST /api/load`` (``{"rate",
"duration"}``: a bounded ``stateline bench``), ``POST /api/experiment``
(``{"name", "quick"}``) and ``POST /api/run/stop`` (``{}``). A load or an
experiment is a child process whose progress the snapshots carry
(:mod:`stateline.dashboard.jobs`); one runs at a time.

Security: it listens on 127.0.0.1 only; the ``Host`` header must name that
address (against DNS rebinding); reads need nothing; every POST needs the
per-``up`` random token in an ``X-Stateline-Token`` header (a custom header and
a JSON content type make it a non-simple request, which a cross-site page
cannot send without a CORS preflight this server never grants) and, when an
``Origin`` is sent, it must be this server's own. Every page answer carries a
``Content-Security-Policy`` of ``default-src 'self'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from stateline.dashboard.jobs import Job, bench_argv, experiment_argv
from stateline.dashboard.snapshot import Snapshots
from stateline.local.control import ControlError, Request, parse_request

MAX_BODY = 16 * 1024
MAX_HEAD = 16 * 1024
#: Seconds between two SSE snapshots.
PERIOD = 1.0
MAX_LOAD_RATE = 2000.0
MAX_LOAD_SECONDS = 300.0
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

Handler = Callable[[Request], Awaitable[dict[str, Any]]]


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def asset(name: str) -> bytes | None:
    """A file shipped in ``stateline/dashboard/static`` (no path tricks: names only)."""
    if "/" in name or "\\" in name or name.startswith(".") or not name:
        return None
    path = resources.files("stateline.dashboard").joinpath("static", name)
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _reason(status: int) -> str:
    return {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            413: "Payload Too Large", 415: "Unsupported Media Type",
            421: "Misdirected Request"}.get(status, "Error")


def response(status: int, body: bytes, content_type: str,
             extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status} {_reason(status)}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "Connection: close", "Cache-Control: no-store",
            f"Content-Security-Policy: {CSP}", "X-Content-Type-Options: nosniff",
            "Referrer-Policy: no-referrer", *(f"{k}: {v}" for k, v in extra)]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def json_response(status: int, doc: object) -> bytes:
    return response(status, json.dumps(doc).encode(), "application/json")


def error(status: int, code: str, message: str) -> bytes:
    return json_response(status, {"error": {"code": code, "message": message}})


class DashboardServer:
    """Serves the dashboard on ``127.0.0.1:port`` for one ``stateline up``."""

    def __init__(self, port: int, snapshots: Snapshots, handler: Handler, gateway_url: str,
                 token: str | None = None, runs_dir: Path | None = None) -> None:
        self.port = port
        self.snapshots = snapshots
        self.handler = handler
        self.gateway_url = gateway_url
        self.token = token or secrets.token_urlsafe(18)
        self._server: asyncio.base_events.Server | None = None
        self._latest: bytes | None = None  # the last snapshot as an SSE event
        self._changed = asyncio.Condition()
        self._ticker: asyncio.Task[None] | None = None
        self._streams = 0
        #: Where runs keep their progress files, logs and (experiments) results.
        self.runs_dir = runs_dir or snapshots.source.data_dir / "dashboard"
        self._job: Job | None = None
        self._jobs_started = 0
        self._conns: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url_with_token(self) -> str:
        return f"{self.url}?token={self.token}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        if self._job is not None and self._job.running:
            await asyncio.to_thread(self._job.kill, 5.0)

    # -- snapshots ---------------------------------------------------------

    async def _tick(self) -> None:
        """Take one snapshot a second while anyone watches the stream."""
        while self._streams > 0:
            try:
                await self._refresh()
            except Exception as exc:  # a bad second must not end the stream for good
                self.snapshots.note(f"dashboard: snapshot failed: {exc!r}")
            await asyncio.sleep(PERIOD)
        self._ticker = None

    async def _refresh(self) -> dict[str, Any]:
        snap = await self.snapshots.take()
        snap["run"] = self._job.state() if self._job is not None else None
        # Encoded once per snapshot, whatever the number of pages streaming it.
        event = b"data: " + json.dumps(snap).encode() + b"\n\n"
        async with self._changed:
            self._latest = event
            self._changed.notify_all()
        return snap

    # -- HTTP --------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            try:
                method, path, headers, body = await asyncio.wait_for(self._read(reader), 10)
                if path == "/api/events" and method == "GET":
                    self._check_host(headers)
                    await self._stream(writer)
                    return
                answer = await self._route(method, path, headers, body)
            except HttpError as exc:
                answer = error(exc.status, exc.code, exc.message)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError):
                answer = error(400, "bad_request", "could not read an HTTP request")
            writer.write(answer)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # never let one request hurt the supervisor
            with contextlib.suppress(Exception):
                writer.write(error(500, "internal", f"dashboard error: {exc!r}"))
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader
                    ) -> tuple[str, str, dict[str, str], bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            raise HttpError(400, "bad_request", "request head too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, "bad_request", "malformed request line")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HttpError(400, "bad_request", "bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise HttpError(413, "too_large", f"a body is at most {MAX_BODY} bytes")
        body = await reader.readexactly(length) if length else b""
        return parts[0], parts[1].split("?", 1)[0], headers, body

    def _check_host(self, headers: dict[str, str]) -> None:
        if headers.get("host") not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            raise HttpError(421, "wrong_host", "the dashboard answers only to 127.0.0.1")

    def _check_control(self, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        if origin is not None and origin not in (f"http://127.0.0.1:{self.port}",
                                                 f"http://localhost:{self.port}"):
            raise HttpError(403, "cross_origin", "controls are refused from another origin")
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HttpError(415, "json_only", "controls take Content-Type: application/json")
        given = headers.get("x-stateline-token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise HttpError(403, "bad_token", "controls need the token `stateline up` printed "
                            "(open the dashboard with ?token=...)")

    async def _route(self, method: str, path: str, headers: dict[str, str],
                     body: bytes) -> bytes:
        self._check_host(headers)
        if method == "GET":
            if path == "/":
                page = asset("index.html") or b""
                return response(200, page, _TYPES[".html"])
            if path.startswith("/static/"):
                name = path.removeprefix("/static/")
                data = asset(name)
                suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
                if data is None or suffix not in _TYPES:
                    raise HttpError(404, "not_found", f"no asset {name!r}")
                return response(200, data, _TYPES[suffix])
            if path == "/api/state":
                return json_response(200, await self._refresh())
            if path == "/api/experiments":
                return json_response(200, {"experiments": experiment_names()})
            if path == "/favicon.ico":
                return response(204, b"", "text/plain")
            raise HttpError(404, "not_found", f"no page {path!r}")
        if method != "POST":
            raise HttpError(405, "method_not_allowed", "GET or POST only")
        if path not in ("/api/control", "/api/load", "/api/experiment", "/api/run/stop"):
            raise HttpError(404, "not_found", f"no control {path!r}")
        self._check_control(headers)
        try:
            doc = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HttpError(400, "bad_json", "the body must be one JSON object") from None
        if path == "/api/load":
            return json_response(200, self._start_load(doc))
        if path == "/api/experiment":
            return json_response(200, self._start_experiment(doc))
        if path == "/api/run/stop":
            return json_response(200, self._stop_run())
        try:
            request = parse_request(doc)
            if request.cmd not in ("kill", "restart", "scale"):
                raise ControlError("bad_request", "the dashboard controls are kill, restart "
                                   "and scale")
            answer = await self.handler(request)
        except ControlError as exc:
            raise HttpError(409 if exc.code != "bad_request" else 400, exc.code,
                            exc.message) from None
        what = request.id if request.cmd != "scale" else (
            f"shards={request.shards}" if getattr(request, "shards", None) is not None
            else f"apps={request.apps}")
        self.snapshots.note(f"{request.cmd} {what} (from the dashboard)")
        asyncio.get_running_loop().create_task(self._refresh())
        return json_response(200, answer)

    def _start_load(self, doc: object) -> dict[str, Any]:
        """``stateline bench`` against the gateway at a chosen rate for a bounded time."""
        if not isinstance(doc, dict):
            raise HttpError(400, "bad_request", 'send {"rate": R, "duration": S}')
        rate, duration = doc.get("rate"), doc.get("duration")
        if not isinstance(rate, int | float) or isinstance(rate, bool) \
                or not 1 <= rate <= MAX_LOAD_RATE:
            raise HttpError(400, "bad_rate", f"rate is requests/s, 1-{MAX_LOAD_RATE:g}")
        if not isinstance(duration, int | float) or isinstance(duration, bool) \
                or not 1 <= duration <= MAX_LOAD_SECONDS:
            raise HttpError(400, "bad_duration", f"duration is seconds, 1-{MAX_LOAD_SECONDS:g}")
        job = self._start_job("load", f"bench {rate:g} req/s for {duration:g} s",
                              bench_argv(self.gateway_url, rate, duration))
        return {"ok": True, "run": job.number, "pid": job.proc.pid, "rate": rate,
                "duration": duration}

    def _start_experiment(self, doc: object) -> dict[str, Any]:
        """``stateline experiment NAME [--quick]`` (its own stack, results in the data dir)."""
        if not isinstance(doc, dict):
            raise HttpError(400, "bad_request", 'send {"name": NAME, "quick": true}')
        name, quick = doc.get("name"), doc.get("quick", True)
        names = experiment_names()
        if not isinstance(name, str) or name not in names:
            raise HttpError(400, "bad_experiment", "name is one of " + ", ".join(names))
        if not isinstance(quick, bool):
            raise HttpError(400, "bad_request", "quick is true or false")
        out = self.runs_dir / "results"
        job = self._start_job("experiment", name + (" --quick" if quick else ""),
                              experiment_argv(name, quick, out))
        return {"ok": True, "run": job.number, "pid": job.proc.pid, "name": name,
                "quick": quick, "results": str(out / name)}

    def _start_job(self, kind: str, name: str, argv: list[str]) -> Job:
        if self._job is not None and self._job.running:
            raise HttpError(409, "run_in_progress",
                            f"{self._job.kind} {self._job.name!r} is still running; stop it first")
        self._jobs_started += 1
        self._job = Job(self._jobs_started, kind, name, argv, self.runs_dir)
        self.snapshots.note(f"{kind} {name} started (from the dashboard)")
        return self._job

    def _stop_run(self) -> dict[str, Any]:
        if self._job is None or not self._job.running:
            raise HttpError(409, "no_run", "nothing is running")
        self._job.stop()
        self.snapshots.note(f"{self._job.kind} {self._job.name} asked to stop")
        return {"ok": True, "run": self._job.number}

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-store\r\nConnection: close\r\n"
                     + f"Content-Security-Policy: {CSP}\r\n\r\n".encode())
        self._streams += 1
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        try:
            if self._latest is not None:
                writer.write(self._latest)
            while True:
                async with self._changed:
                    await self._changed.wait()
                    event = self._latest
                if event is not None:
                    writer.write(event)
                await writer.drain()
        finally:
            self._streams -= 1


def experiment_names() -> list[str]:
    """The experiments the page may start (the across-hosts one needs root: it says so)."""
    from stateline.lab.experiments import EXPERIMENTS

    return list(EXPERIMENTS)
