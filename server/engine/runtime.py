"""The engine's shared parts and its transaction helper."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from server.config import Settings
from server.core.clock import now_us
from server.core.model import CallContext, EventDraft
from server.engine.activity import CallActivity
from server.engine.observer import EngineObserver
from server.events.hub import EventHub, LogEntry
from server.store.agents import AgentRepository
from server.store.database import Database
from server.store.event_log import EventLog
from server.store.tasks import TaskRepository
from taskplane.v1 import events_pb2

T = TypeVar("T")
#: A unit of work: runs in a transaction at a time (microseconds) and returns
#: its result and the events to append in the same transaction.
Work = Callable[[sa.Connection, int], tuple[T, list[EventDraft]]]


class Runtime:
    """Database, repositories, event log and hub of one server process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.activity = CallActivity()
        self.database = Database(settings, lambda: self.activity.running)
        postgres = not self.database.is_sqlite
        self.tasks = TaskRepository(for_update=postgres)
        self.agents = AgentRepository(sqlite=not postgres)
        self.event_log = EventLog(postgres=postgres)
        self.hub = EventHub(self.database, self.event_log)
        self.database.add_write_hooks(
            self.event_log.write_head, self._publish_committed, self._rolled_back
        )
        self.observers: list[EngineObserver] = []
        #: Transactions of the engine waiting for or holding a connection;
        #: counted inline (an async context manager per call costs more).
        self.database_calls_in_flight = 0

    async def start(self) -> None:
        from server.store.migrate import upgrade

        await upgrade(self.database)
        await self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()
        await self.database.dispose()

    async def transact(self, ctx: CallContext, work: Work[T]) -> tuple[T, list[events_pb2.Event]]:
        """Runs `work` and appends the events it returns in one transaction."""

        def unit(conn: sa.Connection) -> tuple[T, list[events_pb2.Event]]:
            now = now_us()
            result, drafts = work(conn, now)
            return result, self.event_log.append(conn, ctx, drafts, now)

        self.database_calls_in_flight += 1
        try:
            result, events = await self.database.write(unit)
        finally:
            self.database_calls_in_flight -= 1
        if events:
            if not self.database.is_sqlite:
                self.hub.notify()
            for observer in self.observers:
                observer.events_appended(events)
        return result, events

    def _publish_committed(self) -> None:
        # SQLite: this process is the only writer and commits on the loop, in
        # order; the hub takes the events as committed instead of reading them.
        committed = self.event_log.take_committed()
        if committed:
            self.hub.publish([LogEntry(*entry) for entry in committed])

    def _rolled_back(self) -> None:
        self.event_log.forget_head()
        self.hub.notify()

    async def read(self, work: Callable[[sa.Connection], T]) -> T:
        """Runs `work` in a read-only transaction."""
        self.database_calls_in_flight += 1
        try:
            return await self.database.read(work)
        finally:
            self.database_calls_in_flight -= 1

    async def read_point(self, work: Callable[[sa.Connection], T]) -> T:
        """`read` for a few rows found by key (see Database.read_point)."""
        self.database_calls_in_flight += 1
        try:
            return await self.database.read_point(work)
        finally:
            self.database_calls_in_flight -= 1
