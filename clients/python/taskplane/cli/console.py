"""Where a command writes: results to stdout, as text or JSON; diagnostics
and progress to stderr."""

from __future__ import annotations

import dataclasses
from typing import TextIO

from google.protobuf import message as pb_message

from taskplane.cli import render


@dataclasses.dataclass
class Console:
    stdout: TextIO
    stderr: TextIO
    json: bool = False

    def out(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def error(self, text: str) -> None:
        self.note(f"error: {text}")

    def result(self, message: pb_message.Message, text: str) -> None:
        """`message` as one JSON document under --json, else `text`."""
        self.out(render.json_document(message) if self.json else text)

    @property
    def interactive(self) -> bool:
        """Whether stderr is a terminal, so progress may be drawn on it."""
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty())
