"""The SQLite writer: runs every write unit of work on the event loop's own
thread, grouping the units submitted during one loop iteration into one
transaction (group commit).

SQLite statements take microseconds and, in WAL mode with
`synchronous=NORMAL`, a commit appends to the WAL without waiting for the
disk; handing each transaction to another thread cost several times more
(thread switches, GIL hand-offs, a wake-up of the loop per commit) than the
transaction itself. What could block the loop is kept off it: the writer's
connection never checkpoints (a `Checkpointer` thread does, with its own
connection) and never waits for a lock held by another process (busy
timeout 0: a busy database is retried later, off the loop's critical path,
until `BUSY_TIMEOUT_S` passes).

Under concurrent load a group gathers for a few loop iterations first
(`GROUP_ROUNDS`, at most `GROUP_WAIT_S`), so that calls arriving meanwhile
share its commit: one commit per several calls instead of one per call.
Idle iterations take microseconds, busy ones (which bring new calls) longer,
so the wait stretches with the load. A lone caller (no other call running
its handler lately, see `running_calls`) never waits.

Each unit of a group runs inside its own SAVEPOINT, so a unit that raises
rolls back alone and its caller gets the exception; the others commit
together. Callers are answered only after the commit, so a result is never
reported before it is durable. Hooks let state kept in memory follow the
transaction: `before_commit` runs last inside it, `after_commit` after it
committed, `after_rollback` after any unit or group rolled back.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc

from server.store.driver import sqlite_of

MAX_GROUP = 256
#: Under concurrent load a group gathers units for this many loop iterations,
#: or until `GROUP_WAIT_S` passed, whichever comes first. On uvloop an
#: iteration is shorter; 64 and 4 ms commit about a tenth more tasks per
#: second end to end than 32 and 2 ms did, with the same latency at 8
#: concurrent callers and less at 64.
GROUP_ROUNDS = 64
GROUP_WAIT_S = 0.004
#: Load counts as concurrent for this long after two calls overlapped.
CONCURRENCY_WINDOW_S = 0.1
#: How long a group waits for a database locked by another process.
BUSY_TIMEOUT_S = 10.0
BUSY_RETRY_S = 0.002
#: A checkpoint is started after this many commits.
CHECKPOINT_EVERY = 64
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED

T = TypeVar("T")
Unit = Callable[[sa.Connection], Any]
_Item = tuple[Unit, "asyncio.Future[Any]"]


def _is_busy(error: BaseException) -> bool:
    cause = error.orig if isinstance(error, sqlalchemy.exc.DBAPIError) else error
    return isinstance(cause, sqlite3.OperationalError) and (
        getattr(cause, "sqlite_errorcode", None) in _BUSY_CODES
    )


class Checkpointer:
    """Copies the WAL back into the database on a thread of its own when
    asked (PASSIVE: it never blocks the writer)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def close(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                with self._engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlalchemy.exc.DBAPIError:  # the next request tries again
                continue


class SqliteWriter:
    def __init__(
        self,
        engine: sa.Engine,
        checkpoint_engine: sa.Engine,
        running_calls: Callable[[], int] = lambda: 0,
    ) -> None:
        self._engine = engine
        self._running_calls = running_calls
        self._pending: list[_Item] = []
        self._scheduled = False
        self._concurrent_until = 0.0
        self._gather_rounds = 0
        self._gather_until = 0.0
        self._busy_since: float | None = None
        self._conn: sa.Connection | None = None
        self._commits = 0
        self._checkpointer = Checkpointer(checkpoint_engine)
        self.before_commit: list[Callable[[sa.Connection], None]] = []
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []

    def submit(self, unit: Unit) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((unit, future))
        now = loop.time()
        if len(self._pending) > 1 or self._running_calls() > 1:
            self._concurrent_until = now + CONCURRENCY_WINDOW_S
        if not self._scheduled:
            self._scheduled = True
            self._gather_rounds = GROUP_ROUNDS if now < self._concurrent_until else 0
            self._gather_until = now + GROUP_WAIT_S
            loop.call_soon(self._flush)
        return future

    def close(self) -> None:
        self._checkpointer.close()
        if self._conn is not None:
            self._conn.close()

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        if self._gather_rounds > 0 and len(self._pending) < MAX_GROUP:
            self._gather_rounds -= 1
            if loop.time() < self._gather_until:
                loop.call_soon(self._flush)
                return
        self._gather_rounds = 0
        group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
        group = [(unit, future) for unit, future in group if not future.cancelled()]
        try:
            if group:
                self._execute(group)
        except Exception as error:  # the transaction could not begin
            now = loop.time()
            if self._busy_since is None:
                self._busy_since = now
            if _is_busy(error) and now - self._busy_since < BUSY_TIMEOUT_S:
                # Another process holds the write lock: try again shortly.
                self._pending[:0] = group
                loop.call_later(BUSY_RETRY_S, self._flush)
                return
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
        self._busy_since = None
        if self._pending:
            loop.call_soon(self._flush)
        else:
            self._scheduled = False

    def _rolled_back(self) -> None:
        for hook in self.after_rollback:
            hook()

    def read_now(self, work: Callable[[sa.Connection], T]) -> T:
        """Runs a small read at once on the writer's connection, in a read
        transaction of its own (between groups, so it sees every commit)."""
        conn = self._connection()
        driver = sqlite_of(conn)
        driver.execute("BEGIN")
        try:
            return work(conn)
        finally:
            driver.execute("COMMIT")

    def _connection(self) -> sa.Connection:
        """The writer's connection. SQLAlchemy sees one transaction that never
        ends; the real ones are begun and ended on the driver, which costs a
        fraction of SQLAlchemy's transaction handling."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect()
            self._conn.begin()
        return self._conn

    def _execute(self, group: list[_Item]) -> None:
        """Runs a group in one transaction and answers its callers; raises
        only when the transaction could not begin."""
        conn = self._connection()
        driver = sqlite_of(conn)
        driver.execute("BEGIN IMMEDIATE")
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            if len(group) == 1:
                unit, future = group[0]
                outcomes.append((future, unit(conn), None))
            else:
                for unit, future in group:
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
            driver.execute("COMMIT")
        except BaseException as error:
            # The unit of a single-unit group raised, or the commit failed:
            # nothing of the group was written.
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            self._rolled_back()
            outcomes = [(future, None, error) for _, future in group]
        else:
            for commit_hook in self.after_commit:
                commit_hook()
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                self._checkpointer.request()
        for future, result, failure in outcomes:
            if future.done():
                continue
            if failure is not None:
                future.set_exception(failure)
            else:
                future.set_result(result)
