"""The SQLite writer: one thread that runs every write unit of work, grouping
those that queue up meanwhile into one transaction (group commit).

Each unit of a group runs inside its own SAVEPOINT, so a unit that raises
rolls back alone and its caller gets the exception; the others commit
together. Callers are answered only after the commit, so a result is never
reported before it is durable.

Savepoints are issued on the driver connection: SQLAlchemy's nested
transactions cost more than the statements they wrap. Hooks let state kept
in memory by the writer's thread follow the transaction: `before_commit`
runs last inside it, `after_rollback` after any unit or group rolled back.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

MAX_GROUP = 64

Unit = Callable[[sa.Connection], Any]
_Item = tuple[Unit, "asyncio.Future[Any]", asyncio.AbstractEventLoop]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


def _settle(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class SqliteWriter:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self.before_commit: list[Callable[[sa.Connection], None]] = []
        self.after_rollback: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, unit: Unit) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((unit, future, loop))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            self._execute(group)
            if stop:
                return

    def _rolled_back(self) -> None:
        for hook in self.after_rollback:
            hook()

    def _execute(self, group: list[_Item]) -> None:
        outcomes: list[_Outcome] = []
        try:
            with self._engine.begin() as conn:
                if len(group) == 1:
                    unit, future, _ = group[0]
                    outcomes.append((future, unit(conn), None))
                else:
                    driver = conn.connection.driver_connection
                    assert driver is not None
                    for unit, future, _ in group:
                        driver.execute("SAVEPOINT unit")
                        try:
                            result = unit(conn)
                        except BaseException as error:
                            driver.execute("ROLLBACK TO unit")
                            driver.execute("RELEASE unit")
                            self._rolled_back()
                            outcomes.append((future, None, error))
                        else:
                            driver.execute("RELEASE unit")
                            outcomes.append((future, result, None))
                for hook in self.before_commit:
                    hook(conn)
        except BaseException as error:
            # The unit of a single-unit group raised, or the commit failed:
            # nothing of the group was written. Whatever it was, the caller
            # gets it and the writer thread lives on.
            self._rolled_back()
            outcomes = [(future, None, error) for _, future, _ in group]
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for (_, _, loop), outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(loop, []).append(outcome)
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle, settled)
