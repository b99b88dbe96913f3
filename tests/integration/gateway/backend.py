"""A small HTTP/1.1 backend for the gateway's integration tests, misbehaving on request.

    python backend.py PORT INSTANCE_ID

Paths (anything else answers 200 with the instance id and the request seen):

    /_stateline/health      200 {"status": "ok", "instance": ID}
    /echo                   200 JSON: method, target, headers, body length
    /sink                   reads the body (any size, streamed), answers {"bytes": N}
    /download?n=N           N bytes with Content-Length, written as the socket drains
    /chunked?n=N            N bytes, chunked
    /eof?n=N                N bytes, no framing, then close (close-delimited body)
    /close-mid              announces 1000 bytes, sends 10, closes
    /trailer                "abc", chunked, with trailer fields (X-Leak, Set-Cookie, X-Request-ID)
    /garbage                answers with bytes that are not HTTP
    /big-head?n=N           answers 200 with N filler header fields of 100 bytes each
    /hang                   reads the request, never answers
    /status/NNN             answers status NNN with a JSON body
    /slow?ms=N              answers after N ms
    /continue-check         answers 200 with whether the body arrived
    /early-413              answers 413 at once without reading the body, then closes
    /refuse-slow            sends a 403 head at once, counts body bytes arriving for 0.6 s,
                            then ends the response and closes (/seen?...&bytes=1 tells)
    /seen?path=P            how many request heads for path P this instance has seen
                            (with &done=1: how many of those it read a complete body for;
                            for /ws: how many tunnels it saw end)
    /ws                     with Connection: upgrade + Upgrade: answers 101 (Upgrade:
                            websocket, or ?proto=P) and echoes raw bytes until EOF; ?show=1
                            first sends the request headers it got as one JSON line, ?greet=S
                            sends S in the same write as the 101 head, ?bye=1 sends "bye" and
                            closes, ?delay=MS answers after MS ms. Without an upgrade: the
                            default answer.
    /ws-refuse              426 (keep-alive), as an app refusing a WebSocket
    /ws-drop                reads the request head and closes without answering
    /conn                   200, body and x-conn: this backend's id for the connection

/ws, /ws-refuse and /conn carry ``x-conn``: a per-connection number, so tests can
tell whether the gateway reused an upstream connection.

It is deliberately independent of the gateway's code (plain asyncio streams).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import signal
import sys
from urllib.parse import parse_qs, urlsplit

INSTANCE = "backend"
SEEN: dict[str, int] = {}  # request heads seen, by path (counted before any body is read)
DONE: dict[str, int] = {}  # requests whose whole body was read, by path
GOT: dict[str, int] = {}  # body bytes that arrived after an early refusal, by path
CONNECTIONS = itertools.count(1)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def read_head(reader: asyncio.StreamReader) -> tuple[str, str, list[tuple[str, str]]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    return method, target, headers


async def body_chunks(reader: asyncio.StreamReader, headers: list[tuple[str, str]]):
    h = dict(headers)
    if h.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return
            left = size
            while left:
                data = await reader.read(min(left, 65536))
                if not data:
                    raise ConnectionError("eof in body")
                left -= len(data)
                yield data
            await reader.readexactly(2)
    else:
        left = int(h.get("content-length", "0"))
        while left:
            data = await reader.read(min(left, 65536))
            if not data:
                raise ConnectionError("eof in body")
            left -= len(data)
            yield data


async def count_for(reader: asyncio.StreamReader, seconds: float) -> int:
    """Bytes that arrive within ``seconds`` (or until EOF)."""
    loop = asyncio.get_running_loop()
    deadline, got = loop.time() + seconds, 0
    while (left := deadline - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(reader.read(65536), left)
        except TimeoutError:
            break
        if not data:
            break
        got += len(data)
    return got


def response(status: int, body: bytes, ctype: str = "application/json",
             extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n"
            f"{extra}\r\n").encode() + body


def asks_upgrade(headers: list[tuple[str, str]]) -> bool:
    h = dict(headers)
    tokens = {t.strip().lower() for t in h.get("connection", "").split(",")}
    return "upgrade" in tokens and bool(h.get("upgrade"))


async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 headers: list[tuple[str, str]], q: dict[str, str], conn: int) -> None:
    """/ws after the request head: switch protocols, then echo raw bytes until EOF."""
    await asyncio.sleep(float(q.get("delay", "0")) / 1000)  # ?delay=MS: decide slowly
    h = dict(headers)
    head = (f"HTTP/1.1 101 Switching Protocols\r\nupgrade: {q.get('proto', 'websocket')}\r\n"
            f"connection: Upgrade\r\nx-conn: {conn}\r\n")
    if "sec-websocket-key" in h:
        accept = base64.b64encode(hashlib.sha1(h["sec-websocket-key"].encode() + WS_GUID)
                                  .digest()).decode()
        head += f"sec-websocket-accept: {accept}\r\n"
    out = (head + "\r\n").encode()
    if q.get("show"):
        out += json.dumps({"headers": headers}).encode() + b"\n"
    out += q.get("greet", "").encode()
    writer.write(out)
    await writer.drain()
    if q.get("bye"):
        writer.write(b"bye")
        await writer.drain()
        writer.close()
        return
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    DONE["/ws"] = DONE.get("/ws", 0) + 1


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    conn = next(CONNECTIONS)
    try:
        while True:
            try:
                method, target, headers = await read_head(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            url = urlsplit(target)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            path = url.path
            n = int(q.get("n", "0"))
            SEEN[path] = SEEN.get(path, 0) + 1
            if path == "/early-413":  # like an app with a body limit: refuse, close unread
                writer.write(response(413, b'{"error": "too large"}',
                                      extra="connection: close\r\n"))
                await writer.drain()
                writer.close()
                return
            if path == "/refuse-slow":
                writer.write(b"HTTP/1.1 403 X\r\ncontent-length: 2\r\n\r\n")
                await writer.drain()
                GOT[path] = await count_for(reader, 0.6)
                writer.write(b"no")
                await writer.drain()
                writer.close()
                return
            if path == "/seen":
                table = GOT if q.get("bytes") else DONE if q.get("done") else SEEN
                writer.write(response(200, json.dumps(table.get(q.get("path", ""), 0)).encode()))
                await writer.drain()
                continue
            if path == "/hang":
                await asyncio.sleep(3600)
            if path == "/ws" and asks_upgrade(headers):
                await tunnel(reader, writer, headers, q, conn)
                return
            if path == "/ws-drop":
                writer.close()
                return
            if path == "/garbage":
                writer.write(b"THIS IS NOT HTTP AT ALL\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            if path == "/big-head":  # n header fields of 100 bytes each, then a tiny body
                fields = b"".join(b"x-filler-%06d: %s\r\n" % (i, b"f" * 82) for i in range(n))
                writer.write(b"HTTP/1.1 200 OK\r\n" + fields + b"content-length: 2\r\n\r\nok")
                await writer.drain()
                continue
            count = 0
            async for chunk in body_chunks(reader, headers):
                count += len(chunk)
            DONE[path] = DONE.get(path, 0) + 1
            if path == "/_stateline/health":
                writer.write(response(200, json.dumps({"status": "ok",
                                                       "instance": INSTANCE}).encode()))
            elif path == "/echo" or path == "/sink" or path == "/continue-check":
                doc = {"instance": INSTANCE, "method": method, "target": target,
                       "headers": headers, "bytes": count}
                writer.write(response(200, json.dumps(doc).encode()))
            elif path == "/download":
                writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n".encode())
                block = b"x" * 65536
                while n > 0:
                    writer.write(block[: min(n, len(block))])
                    n -= len(block)
                    await writer.drain()
            elif path == "/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                while n > 0:
                    k = min(n, 1000)
                    writer.write(b"%x\r\n%s\r\n" % (k, b"c" * k))
                    n -= k
                writer.write(b"0\r\n\r\n")
            elif path == "/trailer":  # chunked, with trailer fields after the last chunk
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
                             b"trailer: X-Leak, Set-Cookie\r\n\r\n3\r\nabc\r\n0\r\n"
                             b"X-Leak: secret\r\nSet-Cookie: sid=alice\r\n"
                             b"X-Request-ID: stale\r\n\r\n")
            elif path == "/eof":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n" + b"e" * n)
                await writer.drain()
                writer.close()
                return
            elif path == "/close-mid":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
                await writer.drain()
                writer.close()
                return
            elif path.startswith("/status/"):
                code = int(path.rsplit("/", 1)[1])
                if code in (204, 304):
                    writer.write(f"HTTP/1.1 {code} X\r\n\r\n".encode())
                else:
                    writer.write(response(code, json.dumps({"instance": INSTANCE,
                                                            "status": code}).encode()))
            elif path == "/ws-refuse":
                writer.write(response(426, b'{"error": "upgrade refused"}',
                                      extra=f"upgrade: websocket\r\nconnection: upgrade\r\n"
                                            f"x-conn: {conn}\r\n"))
            elif path == "/conn":
                writer.write(response(200, str(conn).encode(), extra=f"x-conn: {conn}\r\n"))
            elif path == "/slow":
                await asyncio.sleep(int(q.get("ms", "100")) / 1000)
                writer.write(response(200, json.dumps({"instance": INSTANCE}).encode()))
            elif method == "HEAD":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
            else:
                doc = {"instance": INSTANCE, "path": path, "method": method, "bytes": count}
                writer.write(response(200, json.dumps(doc).encode(), extra="x-backend: 1\r\n"
                                      "connection: keep-alive, x-secret\r\nx-secret: hop\r\n"))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass  # ValueError: a malformed chunk size
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    INSTANCE = sys.argv[2] if len(sys.argv) > 2 else f"127.0.0.1:{sys.argv[1]}"
    asyncio.run(main(int(sys.argv[1])))
