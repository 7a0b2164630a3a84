"""A one-line progress display on a terminal: spinner, elapsed time and the
current status, redrawn in place and erased when done."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TextIO

from taskplane.cli import render

FRAMES = "|/-\\"
REDRAW_S = 0.1
_ERASE = "\r\x1b[K"


def progress_line(frame: int, elapsed_s: float, label: str, status: str) -> str:
    elapsed = f"{elapsed_s:.1f}s" if elapsed_s < 60 else render.duration(elapsed_s)
    return f"{FRAMES[frame % len(FRAMES)]} {label}  {elapsed}  {status}".rstrip()


class Progress:
    """Use as `async with Progress(stream, label) as p: ... p.status = "RUNNING"`;
    draws nothing unless `enabled`."""

    def __init__(self, stream: TextIO, label: str, *, enabled: bool) -> None:
        self.status = ""
        self._stream = stream
        self._label = label
        self._enabled = enabled
        self._start = time.monotonic()
        self._drawer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        self._start = time.monotonic()
        if self._enabled:
            self._drawer = asyncio.create_task(self._draw())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._drawer is None:
            return
        self._drawer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drawer
        self._stream.write(_ERASE)
        self._stream.flush()

    async def _draw(self) -> None:
        frame = 0
        while True:
            line = progress_line(frame, time.monotonic() - self._start, self._label, self.status)
            self._stream.write(_ERASE + line)
            self._stream.flush()
            frame += 1
            await asyncio.sleep(REDRAW_S)
