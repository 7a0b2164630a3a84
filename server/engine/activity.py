"""How many calls are running their handlers right now: the SQLite writer's
hint that more units of work are on their way (see `SqliteWriter`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class CallActivity:
    """Unary calls in flight, minus those parked in a long poll (AcquireTasks
    and WaitTask waiting for an event), which will not write soon."""

    def __init__(self) -> None:
        self.running = 0

    def started(self) -> None:
        self.running += 1

    def finished(self) -> None:
        self.running -= 1

    @contextlib.contextmanager
    def parked(self) -> Iterator[None]:
        self.running -= 1
        try:
            yield
        finally:
            self.running += 1
