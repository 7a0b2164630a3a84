"""The event log: appends events with gap-free sequence numbers in commit
order and reads them back by sequence.

PostgreSQL: sequences come from the single `log_head` row, updated (and so
locked) as the last statement before commit: concurrent writers queue on that
row, so a writer's numbers are allocated only after every earlier writer
committed.

SQLite: the writer (on the event loop) is the only writer and commits in the order it
runs units, so it allocates sequences from a head kept in memory and writes
the `log_head` row once per transaction, just before commit. After any
rollback the head is read again from the store (inside the transaction, so
it counts the units of the group that are still in it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Connection

from server.core import protos
from server.core.ids import new_id
from server.core.model import CallContext, EventDraft
from server.store import driver
from server.store.driver import sqlite_of
from server.store.schema import events, log_head
from taskplane.event_types import SCHEMA_VERSION, field_of_type
from taskplane.v1 import events_pb2

NOTIFY_CHANNEL = "taskplane_events"
_EVENT_COLUMNS = tuple(column.name for column in events.columns)
_INSERT_SQL = driver.insert("events", _EVENT_COLUMNS)
_IN_ORDER = " ORDER BY sequence LIMIT ?"
_STORED_HEAD_SQL = (
    "SELECT MAX((SELECT sequence FROM log_head WHERE id = 1), "
    "COALESCE((SELECT MAX(sequence) FROM events), 0))"
)
_WRITE_HEAD_SQL = driver.update("log_head", ["sequence"], "id = 1")
# PostgreSQL: takes `count` sequences under the log_head row's lock and
# notifies every replica's listener, delivered when the transaction commits:
# one round trip.
_TAKE_SEQUENCES = sa.text(
    "WITH head AS (UPDATE log_head SET sequence = sequence + :count WHERE id = 1"
    " RETURNING sequence)"
    " SELECT sequence, pg_notify(:channel, sequence::text) FROM head"
)
_INSERT = events.insert()


@functools.cache
def _pg_read(by_workspace: bool, by_task: bool, upto: bool) -> sa.Select[tuple[int, bytes]]:
    """PostgreSQL: the read of events after a sequence with these filters,
    built once per combination."""
    query = sa.select(events.c.sequence, events.c.body).where(
        events.c.sequence > sa.bindparam("after")
    )
    if by_workspace:
        query = query.where(events.c.workspace_id == sa.bindparam("workspace_id"))
    if by_task:
        query = query.where(events.c.task_id == sa.bindparam("task_id"))
    if upto:
        query = query.where(events.c.sequence <= sa.bindparam("upto"))
    return query.order_by(events.c.sequence).limit(sa.bindparam("limit"))


def build_event(draft: EventDraft, ctx: CallContext, sequence: int, now: int) -> events_pb2.Event:
    event = events_pb2.Event(
        id=new_id("evt"),
        sequence=sequence,
        type=draft.type,
        schema_version=SCHEMA_VERSION,
        workspace_id=draft.workspace_id or ctx.workspace_id,
        correlation_id=draft.correlation_id or ctx.correlation_id,
        task_id=draft.task_id,
        agent_id=draft.agent_id,
        execution_id=draft.execution_id,
        workflow_id=draft.workflow_id,
        traceparent=draft.traceparent or ctx.traceparent,
    )
    protos.set_time(event.time, now)
    getattr(event, field_of_type(draft.type)).CopyFrom(draft.payload)
    return event


class EventLog:
    def __init__(self, *, postgres: bool) -> None:
        self._postgres = postgres
        # SQLite only, touched by the writer only: the last sequence
        # allocated (None: read it from the store) and the one last written
        # to `log_head` in the current transaction.
        self._head: int | None = None
        self._written: int | None = None
        # SQLite: (sequence, event, serialized event) appended in the current
        # transaction, for the hub once it committed.
        self._appended: list[tuple[int, events_pb2.Event, bytes]] = []

    def append(
        self,
        conn: Connection,
        ctx: CallContext,
        drafts: Sequence[EventDraft],
        now: int,
    ) -> list[events_pb2.Event]:
        """Appends events in the caller's transaction. Call it last in the
        transaction: it takes the log lock, held until commit."""
        if not drafts:
            return []
        if not self._postgres:
            return self._append_sqlite(conn, ctx, drafts, now)
        head = conn.execute(
            _TAKE_SEQUENCES, {"count": len(drafts), "channel": NOTIFY_CHANNEL}
        ).scalar_one()
        first = head - len(drafts) + 1
        built = [
            build_event(draft, ctx, first + offset, now) for offset, draft in enumerate(drafts)
        ]
        conn.execute(
            _INSERT,
            [
                {
                    "sequence": event.sequence,
                    "id": event.id,
                    "workspace_id": event.workspace_id,
                    "type": event.type,
                    "task_id": event.task_id,
                    "agent_id": event.agent_id,
                    "workflow_id": event.workflow_id,
                    "correlation_id": event.correlation_id,
                    "time": now,
                    "body": event.SerializeToString(),
                }
                for event in built
            ],
        )
        return built

    def _append_sqlite(
        self, conn: Connection, ctx: CallContext, drafts: Sequence[EventDraft], now: int
    ) -> list[events_pb2.Event]:
        driver = sqlite_of(conn)
        if self._head is None:
            self._head = int(driver.execute(_STORED_HEAD_SQL).fetchone()[0])
        first = self._head + 1
        built = [
            build_event(draft, ctx, first + offset, now) for offset, draft in enumerate(drafts)
        ]
        bodies = [event.SerializeToString() for event in built]
        driver.executemany(
            _INSERT_SQL,
            [
                (
                    event.sequence,
                    event.id,
                    event.workspace_id,
                    event.type,
                    event.task_id,
                    event.agent_id,
                    event.workflow_id,
                    event.correlation_id,
                    now,
                    body,
                )
                for event, body in zip(built, bodies, strict=True)
            ],
        )
        self._head = built[-1].sequence
        self._appended += zip((event.sequence for event in built), built, bodies, strict=True)
        return built

    def take_committed(self) -> list[tuple[int, events_pb2.Event, bytes]]:
        """SQLite, after commit: what the transaction appended, in order."""
        appended, self._appended = self._appended, []
        return appended

    def write_head(self, conn: Connection) -> None:
        """SQLite: the writer's last step before commit."""
        if self._head is not None and self._head != self._written:
            sqlite_of(conn).execute(_WRITE_HEAD_SQL, (self._head,))
            self._written = self._head

    def forget_head(self) -> None:
        """SQLite: something rolled back; read the head again when needed
        (what the transaction appended so far is dropped: the hub then reads
        the store)."""
        self._head = self._written = None
        self._appended = []

    def head(self, conn: Connection) -> int:
        query = sa.select(log_head.c.sequence).where(log_head.c.id == 1)
        return int((conn.execute(query)).scalar_one())

    def read(
        self,
        conn: Connection,
        *,
        after: int,
        limit: int,
        workspace_id: str | None = None,
        task_id: str = "",
        upto: int | None = None,
    ) -> list[tuple[int, bytes]]:
        """(sequence, serialized Event) pairs after a sequence, in order."""
        if not self._postgres:
            condition = "sequence > ?"
            params: list[object] = [after]
            if workspace_id is not None:
                condition += " AND workspace_id = ?"
                params.append(workspace_id)
            if task_id:
                condition += " AND task_id = ?"
                params.append(task_id)
            if upto is not None:
                condition += " AND sequence <= ?"
                params.append(upto)
            sql = driver.select("events", ["sequence", "body"], condition + _IN_ORDER)
            params.append(limit)
            return sqlite_of(conn).execute(sql, params).fetchall()
        query = _pg_read(workspace_id is not None, bool(task_id), upto is not None)
        values = {
            "after": after,
            "workspace_id": workspace_id,
            "task_id": task_id,
            "upto": upto,
            "limit": limit,
        }
        return [(int(row[0]), bytes(row[1])) for row in conn.execute(query, values)]
