"""The event hub: one per process. It tails the event log once into a shared
ring buffer of recent events and wakes everyone waiting for new ones.

Subscribers keep only a cursor (the last sequence they scanned). They read
from the buffer while their cursor lies inside it and from the store when
they fall behind it, so a slow subscriber costs no memory and a fast one
never touches the database.

On SQLite the writer, which commits on the loop, hands the hub each
committed transaction's events (`publish`) instead of the hub reading them.

Fan-out: waiters are plain futures woken in one pass; subscriptions at the
same cursor with the same filter share one encoded batch (`shared`); and
the hub paces delivery rounds. After waking many waiters it holds new events
back until nearly all of them have come back to wait, then for a gap, so
that the calls that commit get their share of the loop (a round to 1,000
streams costs tens of milliseconds of CPU, more on a slower machine, and
without pacing a round would follow each commit). The gap is a fraction of
the round's duration that follows the load: the process's CPU use during
each gap, against its use during the round (which keeps the process as
busy as the machine lets it), tells whether the calls needed much of the gap
(the fraction grows, up to as long as the round) or left it mostly idle (it
shrinks, down to a quarter), so that under a light load events wait less.
The wait is capped, so a few stuck streams cannot stall the rest.

Local writers call `notify()` after commit; on PostgreSQL other replicas'
commits arrive through LISTEN/NOTIFY, and a periodic poll covers anything
missed. After a database outage the LISTEN connection is reopened with
backoff and the hub loads everything committed meanwhile from the store, so
subscribers miss nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import heapq
import itertools
import time
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from server.core.errors import DatabaseUnavailable
from server.store.database import Database
from server.store.event_log import NOTIFY_CHANNEL, EventLog
from taskplane.v1 import events_pb2

log = structlog.get_logger(__name__)
T = TypeVar("T")
_MISSING = object()
#: Backoff between attempts to reopen the LISTEN connection.
LISTEN_RETRY_MIN_S = 0.1
LISTEN_RETRY_MAX_S = 5.0
#: Delivery rounds are paced once they wake at least LINGER_MIN_WAITERS (or
#: that many subscriptions are attached); a round is over when all but a
#: sixteenth of its waiters are waiting again. The next reveal comes at most
#: twice the last round's duration (at least ROUND_CAP_MIN_S) after the
#: last, so that waiters which do not come back (their call ended) delay
#: nothing for long, and never later than LINGER_MAX_S.
LINGER_MIN_WAITERS = 64
LINGER_MAX_S = 0.1
ROUND_CAP_MIN_S = 0.01
#: The gap after a round, as a fraction of the round's duration, starts at
#: GAP_MAX and stays within [GAP_MIN, GAP_MAX]. After each gap it is scaled
#: by how busy the process was in the gap over GAP_BUSY, busy being its CPU
#: time per second in the gap over the same in the round (a round to many
#: streams uses all the CPU the process gets, so this holds on a shared or
#: throttled core too). At one half, a gap shrinks only while publishing
#: leaves it mostly idle (a light load), and under a heavy one rounds keep
#: the pace of a gap as long as the round: with gaps kept 85 % busy, rounds
#: to 1,000 subscribers at 1,000 events/s came more often, the subscribers
#: fell behind and p99 rose.
GAP_MIN = 0.25
GAP_MAX = 1.0
GAP_BUSY = 0.5
#: Shared batches kept (they are only reused within a round).
SHARED_MAX = 64


@dataclasses.dataclass(frozen=True, slots=True)
class LogEntry:
    """One event with its serialized form, shared by every subscriber."""

    sequence: int
    event: events_pb2.Event
    body: bytes


class Follower(Protocol):
    @property
    def cursor(self) -> int:
        """The last sequence it scanned."""


class EventHub:
    def __init__(
        self,
        database: Database,
        event_log: EventLog,
        *,
        buffer_size: int = 10_000,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._database = database
        self._log = event_log
        self._buffer_size = buffer_size
        self._poll_interval_s = poll_interval_s
        self._entries: list[LogEntry] = []
        self._head = 0
        # Loaded or published but held back while the hub lingers.
        self._held: list[LogEntry] = []
        self._linger: asyncio.TimerHandle | None = None
        # The delivery round in progress: when it began and how many of its
        # waiters have yet to come back; and how long the last one took.
        self._round_started = 0.0
        self._round_pending = 0
        self._last_round_s = 0.0
        # The gap after a round (see GAP_*); the process CPU time when the
        # round began and its CPU time per second during the round; when the
        # current gap began (loop time, process CPU time).
        self._gap = GAP_MAX
        self._round_cpu = 0.0
        self._round_busy = 1.0
        self._gap_began: tuple[float, float] | None = None
        self._wake = asyncio.Event()
        self._waiters: set[asyncio.Future[None]] = set()
        # The waiters' deadlines (loop time, tie-breaker, waiter), earliest
        # first, and the one timer for the earliest.
        self._deadlines: list[tuple[float, int, asyncio.Future[None]]] = []
        self._waits = itertools.count()
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._shared: dict[Hashable, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._listener: AsyncConnection | None = None
        self._listener_driver: Any = None
        self._listener_lost = asyncio.Event()
        #: Why the LISTEN connection is down (error class), or "".
        self.listener_error = ""
        #: Why the last load from the store failed (error class), or "".
        self.load_error = ""
        self._followers: set[Follower] = set()
        #: Set when the server drains: subscriptions end with UNAVAILABLE.
        self.closing = asyncio.Event()

    @property
    def head(self) -> int:
        """Highest sequence loaded into the buffer."""
        return self._head

    @property
    def subscribers(self) -> int:
        return len(self._followers)

    @property
    def round_s(self) -> float:
        """How long the last paced delivery round took (0 before the first)."""
        return self._last_round_s

    @property
    def gap(self) -> float:
        """The hold after a paced round, as a fraction of the round's duration."""
        return self._gap

    def attach(self, follower: Follower) -> None:
        """Counts a subscription until `detach`."""
        self._followers.add(follower)

    def detach(self, follower: Follower) -> None:
        self._followers.discard(follower)

    def lag(self) -> int:
        """Events the slowest subscription has yet to scan, up to the head."""
        return max((self._head - follower.cursor for follower in self._followers), default=0)

    @property
    def base(self) -> int:
        """Sequence just before the oldest buffered entry."""
        return self._entries[0].sequence - 1 if self._entries else self._head

    @property
    def listening(self) -> bool:
        """Whether the PostgreSQL LISTEN connection is open."""
        return self._listener_driver is not None and not self._listener_driver.is_closed()

    async def start(self) -> None:
        self._head = await self._database.read(self._log.head)
        if not self._database.is_sqlite:
            await self._listen()
            self._listen_task = asyncio.create_task(self._keep_listening(), name="event-listen")
        self._task = asyncio.create_task(self._tail(), name="event-hub")

    async def stop(self) -> None:
        for task in (self._listen_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        if self._linger is not None:
            self._linger.cancel()
        self._forget_deadlines()
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            waiter.cancel()

    def close_streams(self) -> None:
        """Ends every subscription (they answer UNAVAILABLE; clients resume)."""
        self.closing.set()
        self._wake_waiters()

    def publish(self, entries: list[LogEntry]) -> None:
        """Events this process just committed, in commit order (SQLite, the
        only writer); a gap (after a rollback) makes the hub read the store."""
        if entries[0].sequence != self._loaded + 1:
            self.notify()
            return
        self._extend(entries)

    @property
    def _loaded(self) -> int:
        return self._held[-1].sequence if self._held else self._head

    def _extend(self, entries: list[LogEntry]) -> None:
        self._held += entries
        if self._linger is None:
            self._reveal()

    def _reveal(self) -> None:
        """Makes the held entries visible and wakes the waiters; paces the
        next reveal after a large round (see the module docstring)."""
        self._linger = None
        loop = asyncio.get_running_loop()
        if self._gap_began is not None:
            self._fit_gap(loop, *self._gap_began)
        if not self._held:
            return
        if self._round_pending:
            # Capped: the last round is still delivering.
            self._last_round_s = loop.time() - self._round_started
            self._round_pending = 0
        self._entries += self._held
        self._head = self._held[-1].sequence
        self._held = []
        if len(self._entries) > 2 * self._buffer_size:
            del self._entries[: len(self._entries) - self._buffer_size]
        self._shared.clear()
        woken = self._wake_waiters()
        if woken >= LINGER_MIN_WAITERS:
            self._round_started = loop.time()
            self._round_cpu = time.process_time()
            self._round_pending = woken - woken // 16
            self._linger = loop.call_later(self._round_cap_s(), self._reveal)
        elif len(self._followers) >= LINGER_MIN_WAITERS and self._last_round_s:
            # Most subscriptions are busy (still writing, or reading the
            # store): hold back as long as the last round took.
            delay = min(self._last_round_s, LINGER_MAX_S)
            self._linger = loop.call_later(delay, self._reveal)

    def _round_cap_s(self) -> float:
        if not self._last_round_s:
            return LINGER_MAX_S
        return min(LINGER_MAX_S, max(2 * self._last_round_s, ROUND_CAP_MIN_S))

    def _round_over(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        self._last_round_s = now - self._round_started
        if self._linger is not None:
            self._linger.cancel()
        reveal_at = min(now + self._gap * self._last_round_s, self._round_started + LINGER_MAX_S)
        cpu = time.process_time()
        if self._last_round_s > 0:
            self._round_busy = (cpu - self._round_cpu) / self._last_round_s
        self._gap_began = (now, cpu)
        self._linger = loop.call_at(reveal_at, self._reveal)

    def _fit_gap(self, loop: asyncio.AbstractEventLoop, began_at: float, began_cpu: float) -> None:
        """Scales the next gap by how busy the process was in the last one."""
        self._gap_began = None
        elapsed = loop.time() - began_at
        if elapsed <= 0:
            return
        busy = (time.process_time() - began_cpu) / elapsed / max(self._round_busy, 0.05)
        self._gap = min(GAP_MAX, max(GAP_MIN, self._gap * busy / GAP_BUSY))

    def _wake_waiters(self) -> int:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        # Every waiter is awake: no deadline is left to watch.
        self._forget_deadlines()
        return len(waiters)

    async def _wait(self, deadline: float) -> None:
        """Until the next wake-up or the deadline (loop time)."""
        loop = asyncio.get_running_loop()
        if self._round_pending:
            self._round_pending -= 1
            if not self._round_pending:
                self._round_over(loop)
        waiter = loop.create_future()
        self._waiters.add(waiter)
        heapq.heappush(self._deadlines, (deadline, next(self._waits), waiter))
        if self._deadlines[0][0] == deadline:
            self._time_next_deadline(loop)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)

    def _forget_deadlines(self) -> None:
        self._deadlines.clear()
        self._stop_deadline_timer()

    def _stop_deadline_timer(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    def _time_next_deadline(self, loop: asyncio.AbstractEventLoop) -> None:
        """One timer, for the earliest deadline of the waiters: a timer per
        waiter, started and cancelled on every wait, cost a fan-out round a
        quarter of its time in the hub."""
        self._stop_deadline_timer()
        if self._deadlines:
            self._deadline_timer = loop.call_at(self._deadlines[0][0], self._release_overdue)

    def _release_overdue(self) -> None:
        self._deadline_timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._deadlines and self._deadlines[0][0] <= now:
            _release(heapq.heappop(self._deadlines)[2])
        self._time_next_deadline(loop)

    def shared(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()`, computed once for every caller with the same key while
        the head stays where it is (key it by what the value depends on)."""
        found = self._shared.get(key, _MISSING)
        if found is _MISSING:
            if len(self._shared) >= SHARED_MAX:
                self._shared.clear()
            found = self._shared[key] = build()
        return cast(T, found)

    def notify(self) -> None:
        """Something was committed: load it soon."""
        self._wake.set()

    async def _listen(self) -> None:
        assert self._database.async_engine is not None
        connection = await self._database.async_engine.connect()
        lost = asyncio.Event()
        try:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            driver.add_termination_listener(lambda _: lost.set())
            await driver.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        except BaseException:
            await _discard(connection)
            raise
        self._listener, self._listener_driver, self._listener_lost = connection, driver, lost
        self.listener_error = ""

    async def _keep_listening(self) -> None:
        """Reopens the LISTEN connection after it drops, with backoff; each
        reopening wakes the tail, which loads what was committed meanwhile."""
        delay = LISTEN_RETRY_MIN_S
        while True:
            if self.listening and not self._listener_lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval_s):
                        await self._listener_lost.wait()
                continue
            if self._listener is not None:
                log.warning("event_hub.listener_lost")
                self.listener_error = "ConnectionLost"
                listener, self._listener, self._listener_driver = self._listener, None, None
                await _discard(listener)
            try:
                await self._listen()
            except Exception as error:
                self.listener_error = type(error).__name__
                log.warning("event_hub.listen_failed", error=self.listener_error, retry_s=delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, LISTEN_RETRY_MAX_S)
                continue
            log.info("event_hub.listening")
            delay = LISTEN_RETRY_MIN_S
            self._wake.set()

    async def _tail(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a
            # cancellation that arrives just as the event is set, and `stop()`
            # then waits for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._load()
            except Exception as error:  # the poll retries; subscribers keep their cursors
                if not isinstance(error, DatabaseUnavailable):
                    log.error("event_hub.load_failed", exc_info=error)
                    self.load_error = type(error).__name__
                else:
                    if not self.load_error:
                        log.warning("event_hub.load_failed", error=error.cause)
                    self.load_error = error.cause
                await asyncio.sleep(self._poll_interval_s)
                continue
            if self.load_error:
                log.info("event_hub.load_recovered")
                self.load_error = ""

    async def _load(self) -> None:
        while True:
            after = self._loaded
            rows = await self._database.read(
                functools.partial(self._log.read, after=after, limit=1000)
            )
            # Events published meanwhile (SQLite) are already there.
            rows = [row for row in rows if row[0] > self._loaded]
            if not rows:
                return
            self._extend(
                [LogEntry(seq, events_pb2.Event.FromString(body), body) for seq, body in rows]
            )
            if len(rows) < 1000:
                return

    def read(self, after: int, limit: int) -> list[LogEntry] | None:
        """Buffered entries after a sequence; None when the cursor lies before
        the buffer (read the store instead)."""
        if after < self.base:
            return None
        start = after - self.base
        return self._entries[start : start + limit]

    async def wait_beyond(self, sequence: int, timeout: float, *, until_close: bool = True) -> bool:
        """Waits until the head passes `sequence` (or, with `until_close`, the
        hub closes its streams); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            closing = until_close and self.closing.is_set()
            remaining = deadline - loop.time()
            if self._head > sequence or closing or remaining <= 0:
                return self._head > sequence or closing
            await self._wait(deadline)

    async def wait_for_event(
        self, after: int, predicate: Callable[[events_pb2.Event], bool], timeout: float
    ) -> bool:
        """Waits until a buffered event after `after` satisfies `predicate`;
        True also when the buffer no longer covers `after` (re-check the store)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cursor = after
        while True:
            entries = self.read(cursor, self._buffer_size)
            if entries is None:
                return True
            if any(predicate(entry.event) for entry in entries):
                return True
            if entries:
                cursor = entries[-1].sequence
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self.wait_beyond(cursor, remaining, until_close=False):
                return False


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _discard(connection: AsyncConnection) -> None:
    """Drops a connection that may be broken, never returning it to the pool."""
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()
