"""``stateline logs [-f] [ID...]``: the children's logs with a prefix per process.

Every supervised process writes ``DATA_DIR/logs/<id>.log``; like ``docker
compose logs -f`` this prints them with an aligned ``id |`` prefix (coloured
in a terminal), first what is there, then, with ``-f``, lines as they are
written, including files of processes started later (``scale`` up). A line is
printed only once it is complete, so two processes never interleave mid-line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

COLOURS = (36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96)
POLL = 0.2


@dataclass
class _Tail:
    path: Path
    offset: int = 0
    partial: bytes = b""


def log_files(logs_dir: Path, ids: Iterable[str]) -> list[Path]:
    wanted = set(ids)
    files = sorted(logs_dir.glob("*.log"))
    return [f for f in files if not wanted or f.stem in wanted]


def tail_start(path: Path, lines: int | None) -> int:
    """The offset from which the last ``lines`` lines of ``path`` start (0: all)."""
    if lines is None:
        return 0
    data = path.read_bytes()
    if lines <= 0:
        return len(data)
    kept = data.splitlines(keepends=True)[-lines:]
    return len(data) - sum(len(line) for line in kept)


class LogPrinter:
    def __init__(self, out: TextIO, colour: bool, width: int = 0) -> None:
        self.out = out
        self.colour = colour
        self.width = width
        self._colours: dict[str, int] = {}

    def prefix(self, ident: str) -> str:
        text = f"{ident:<{self.width}} | "
        if not self.colour:
            return text
        code = self._colours.setdefault(ident, COLOURS[len(self._colours) % len(COLOURS)])
        return f"\x1b[{code}m{text}\x1b[0m"

    def emit(self, ident: str, data: bytes) -> None:
        for line in data.decode("utf-8", "replace").splitlines():
            self.out.write(self.prefix(ident) + line + "\n")
        self.out.flush()


def follow(logs_dir: Path, ids: list[str], printer: LogPrinter, tail: int | None,
           keep_going: Callable[[], bool] | None) -> None:
    """Print the logs; with ``keep_going`` poll for more until it returns False."""
    tails: dict[str, _Tail] = {}

    def discover(first: bool) -> None:
        for path in log_files(logs_dir, ids):
            if path.stem not in tails:
                start = tail_start(path, tail) if first else 0
                tails[path.stem] = _Tail(path, start)
        printer.width = max([printer.width, *(len(i) for i in tails)])

    def drain(t: _Tail, final: bool) -> None:
        try:
            size = t.path.stat().st_size
        except FileNotFoundError:
            return
        if size < t.offset:  # truncated or replaced: start over
            t.offset, t.partial = 0, b""
        if size == t.offset and not (final and t.partial):
            return
        with t.path.open("rb") as f:
            f.seek(t.offset)
            data = f.read(size - t.offset)
        t.offset += len(data)
        data = t.partial + data
        complete, sep, rest = data.rpartition(b"\n")
        t.partial = rest
        if sep:
            printer.emit(t.path.stem, complete)
        if final and t.partial:
            printer.emit(t.path.stem, t.partial)
            t.partial = b""

    discover(first=True)
    for t in tails.values():  # what is there now, file by file
        drain(t, final=keep_going is None)
    if keep_going is None:
        return
    while keep_going():
        time.sleep(POLL)
        discover(first=False)
        for t in tails.values():
            drain(t, final=False)
