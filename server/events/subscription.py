"""Catch-up subscriptions: replay from the store, then follow the hub, with a
single cursor so that there is no gap and no duplicate at the switch."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable

from server.core.errors import Unavailable
from server.core.model import TERMINAL_EVENT_TYPES
from server.events.filters import EventFilter
from server.events.hub import EventHub, LogEntry
from server.store.database import Database
from server.store.event_log import EventLog
from taskplane.v1 import events_pb2


@dataclasses.dataclass(frozen=True)
class Batch:
    entries: list[LogEntry]
    #: The batch as the transport sends it.
    payload: bytes


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    head_sequence: int


@dataclasses.dataclass(frozen=True)
class End:
    reason: str
    last_sequence: int


Item = Batch | Heartbeat | End


class Subscription:
    def __init__(
        self,
        hub: EventHub,
        database: Database,
        event_log: EventLog,
        event_filter: EventFilter,
        *,
        after: int,
        batch_size: int,
        heartbeat_interval_s: float,
        encode: Callable[[list[LogEntry]], bytes],
        end_when_caught_up: bool = False,
    ) -> None:
        self._hub = hub
        self._database = database
        self._log = event_log
        self._filter = event_filter
        self.cursor = after
        self._batch_size = batch_size
        self._heartbeat_interval_s = heartbeat_interval_s
        self._encode = encode
        # A task subscription ends after the task's terminal event, or, when
        # the task was terminal before the subscription began, once caught up.
        self._end_when_caught_up = end_when_caught_up

    async def _read_store(self) -> list[LogEntry]:
        upto = self._hub.head
        cursor = self.cursor
        rows = await self._database.read(
            lambda conn: self._log.read(
                conn,
                after=cursor,
                limit=self._batch_size,
                workspace_id=self._filter.workspace_id,
                task_id=self._filter.task_id,
                upto=upto,
            )
        )
        entries = [LogEntry(seq, events_pb2.Event.FromString(body), body) for seq, body in rows]
        if len(rows) < self._batch_size:
            # Everything up to `upto` that could match has been read; the
            # cursor may skip the rest (other workspaces' or tasks' events).
            self.cursor = max(self.cursor, upto)
        return entries

    def _batches(self, entries: list[LogEntry]) -> tuple[list[Batch], bool]:
        """The matching entries in encoded batches, and whether the task of a
        task subscription reached a terminal event among `entries`."""
        matching = [entry for entry in entries if self._filter.matches(entry.event)]
        finished = bool(self._filter.task_id) and any(
            entry.event.type in TERMINAL_EVENT_TYPES and self._filter.in_scope(entry.event)
            for entry in entries
        )
        size = self._batch_size
        chunks = [matching[start : start + size] for start in range(0, len(matching), size)]
        return [Batch(chunk, self._encode(chunk)) for chunk in chunks], finished

    async def __aiter__(self) -> AsyncIterator[Item]:
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        while True:
            if self._hub.closing.is_set():
                raise Unavailable(
                    f"the server is shutting down; resume after sequence {self.cursor}",
                    retry_after_s=0.5,
                )
            after = self.cursor
            buffered = self._hub.read(after, self._batch_size * 4)
            if buffered is None:
                entries = await self._read_store()
                batches, finished = self._batches(entries)
            else:
                entries = buffered
                # Subscriptions at the same cursor with the same filter (a
                # fan-out) get the same batches: build them once.
                key = (
                    self._filter,
                    self._batch_size,
                    after,
                    entries[-1].sequence if entries else 0,
                )
                build = functools.partial(self._batches, buffered)
                batches, finished = self._hub.shared(key, build)
            if entries:
                self.cursor = max(self.cursor, entries[-1].sequence)
            for batch in batches:
                yield batch
                last_sent = loop.time()
            if finished:
                yield End("task_terminal", self.cursor)
                return
            if entries and self.cursor < self._hub.head:
                continue
            if self._hub.read(self.cursor, 1) is None:
                continue  # behind the buffer: read the store
            if self._end_when_caught_up:
                yield End("task_terminal", self.cursor)
                return
            remaining = self._heartbeat_interval_s - (loop.time() - last_sent)
            if remaining <= 0 or not await self._hub.wait_beyond(self.cursor, remaining):
                yield Heartbeat(self._hub.head)
                last_sent = loop.time()
