"""Helpers for the gateway's integration tests: processes and a raw HTTP/1.1 client.

Backends are ``backend.py`` in this folder (plain asyncio, independent of the
gateway's code); the gateway is started as a user would, ``python -m
stateline gateway ...``. Every process listens on 127.0.0.1 on a free port and
is stopped when its test ends.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Re-exported for the tests: one way to pick and wait for ports in the project.
from stateline.local.procs import free_port as free_port
from stateline.local.procs import wait_port as wait_port

HERE = Path(__file__).resolve().parent
TOKEN = "test-admin-token"



@dataclass
class Proc:
    proc: subprocess.Popen
    port: int
    log: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def pool_toml(*addresses: str, **options: object) -> str:
    """A one-pool config with fast timeouts for tests; ``options`` go into [pools.apps]."""
    opts = {"response_timeout": 2.0, "connect_timeout": 1.0, **options}
    lines = ["[gateway]", "header_read_timeout = 1.0", "idle_timeout = 3.0",
             "shutdown_grace = 5.0", "", "[pools.apps]",
             "backends = [" + ", ".join(f'"http://{a}"' for a in addresses) + "]"]
    for k, v in opts.items():
        if isinstance(v, dict):
            inner = ", ".join(f"{ik} = {json.dumps(iv)}" for ik, iv in v.items())
            lines.append(f"{k} = {{ {inner} }}")
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


def peak_rss(pid: int) -> int:
    """VmHWM: the process's peak resident set so far, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


# -- a tiny raw HTTP client: tests must see exactly what goes over the wire ---------


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_headers: list[tuple[str, str]]

    def json(self) -> dict:
        return json.loads(self.body)


class Reader:
    """Reads HTTP/1.1 responses from a socket (Content-Length, chunked or until close)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError("closed")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_only: bool = False) -> Response:
        status_line = self._line()
        status = int(status_line.split(b" ")[1])
        raw = []
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            raw.append((name.strip().lower(), value.strip()))
        headers = dict(raw)
        if head_only or status in (204, 304) or 100 <= status < 200:
            return Response(status, headers, b"", raw)
        if "content-length" in headers:
            body = self._exact(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    break
                parts.append(self._exact(size))
                self._exact(2)
            body = b"".join(parts)
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return Response(status, headers, body, raw)

    def closed(self, timeout: float = 3.0) -> bool:
        """True when the peer closes the connection (after any buffered bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def request(port: int, raw: bytes, head_only: bool = False) -> Response:
    with connect(port) as s:
        s.sendall(raw)
        return Reader(s).response(head_only=head_only)


def get(port: int, path: str = "/", headers: str = "") -> Response:
    return request(port, f"GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())


def admin(port: int, method: str, path: str, token: str | None = TOKEN) -> Response:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return request(port, f"{method} {path} HTTP/1.1\r\nHost: t\r\n{auth}"
                         f"Content-Length: 0\r\n\r\n".encode())


def upstream_requests(port: int) -> int:
    """Responses the gateway got from its instances so far (from /_stateline/stats)."""
    stats = admin(port, "GET", "/_stateline/stats").json()
    return sum(u["requests"] for p in stats["pools"].values() for u in p["upstreams"].values())


def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
