"""Is a child ready? An HTTP health probe small enough to need no HTTP client.

The supervisor needs the status of ``GET /_stateline/health`` and, when it is
not 200, the ``detail`` the app puts in its JSON body ("stores not reachable
yet: ..."): that sentence is usually the whole reason a start-up fails, so the
supervisor shows it instead of leaving the user to dig through logs. A raw
asyncio connection keeps this independent of the HTTP libraries the app and
gateway packages choose, and never blocks the supervisor's event loop.

:class:`ReadyWatch` is the pure core that decides, from the answers seen so
far, whether to keep waiting: a process that reports the *same* problem for
``stuck_after`` seconds (a wrong database URL, say) is not going to recover by
itself, so start-up fails then rather than after the full ready timeout.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from dataclasses import dataclass

from stateline.local.specs import HEALTH_PATH

#: Enough for any health body; a probe never reads more.
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """One health probe: the HTTP status (``None``: no answer at all) and the body's detail."""

    status: int | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


def parse_answer(raw: bytes) -> Answer:
    """Read the status and the JSON body's ``detail`` from a raw ``Connection: close`` response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return Answer()
    detail = None
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("detail"), str) and obj["detail"].strip():
        detail = obj["detail"].strip()
    return Answer(int(parts[1]), detail)


async def probe(port: int, path: str = HEALTH_PATH, timeout: float = 1.0,
                host: str = "127.0.0.1") -> Answer:
    """``GET path`` on ``host:port``; an empty :class:`Answer` if nothing answered."""
    head = body = b""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                             "Connection: close\r\n\r\n".encode())
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                if length is not None and length <= MAX_ANSWER:
                    body = await reader.readexactly(length)
                else:
                    body = await reader.read(MAX_ANSWER)
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass  # what arrived (a status line, say) still counts
    return parse_answer(head + body)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


@dataclass(frozen=True)
class Outcome:
    """How waiting for health ended: ``ok``, or why not in one sentence."""

    ok: bool
    why: str = ""


class ReadyWatch:
    """Decides, answer by answer, whether a starting process is ready, stuck or late.

    Pure: the caller supplies the answers and the clock.
    """

    def __init__(self, now: float, timeout: float, stuck_after: float) -> None:
        self.deadline = now + timeout
        self.timeout = timeout
        self.stuck_after = stuck_after
        self.detail: str | None = None
        self.detail_since = now

    def observe(self, answer: Answer, now: float) -> Outcome | None:
        """The verdict after ``answer`` arrived at ``now``; ``None`` means keep waiting."""
        if answer.ok:
            return Outcome(True)
        if answer.detail != self.detail:
            self.detail, self.detail_since = answer.detail, now
        if self.detail is not None and now - self.detail_since >= self.stuck_after:
            return Outcome(False, f"kept reporting the same problem for "
                           f"{self.stuck_after:g}s: {self.detail}")
        if now >= self.deadline:
            last = f" (it last said: {self.detail})" if self.detail else ""
            return Outcome(False, f"was not healthy within {self.timeout:g}s{last}")
        return None


async def wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float,
                       path: str = HEALTH_PATH, stuck_after: float = 15.0,
                       host: str = "127.0.0.1") -> Outcome:
    """Poll until healthy; not ok at once if the process exits, when stuck, or after ``timeout``."""
    loop = asyncio.get_running_loop()
    watch = ReadyWatch(loop.time(), timeout, stuck_after)
    while True:
        if proc.poll() is not None:
            return Outcome(False, "exited")
        verdict = watch.observe(await probe(port, path, host=host), loop.time())
        if verdict is not None:
            return verdict
        await asyncio.sleep(0.1)
