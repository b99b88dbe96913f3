"""Is a child ready? An HTTP health probe small enough to need no HTTP client.

The supervisor only needs the status line of ``GET /_stateline/health``; a
raw asyncio connection keeps it independent of the HTTP libraries the app and
gateway packages choose, and never blocks the supervisor's event loop.
"""

from __future__ import annotations

import asyncio
import subprocess

from stateline.local.specs import HEALTH_PATH


async def probe(port: int, path: str = HEALTH_PATH, timeout: float = 1.0,
                host: str = "127.0.0.1") -> bool:
    """True if ``GET path`` on ``host:port`` answers with status 200."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                             "Connection: close\r\n\r\n".encode())
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return False
    parts = status_line.split()
    return len(parts) >= 2 and parts[1] == b"200"


async def wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float,
                       path: str = HEALTH_PATH) -> bool:
    """Poll until healthy; False at once if the process exits, or after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc.poll() is not None:
            return False
        if await probe(port, path):
            return True
        await asyncio.sleep(0.1)
    return False
