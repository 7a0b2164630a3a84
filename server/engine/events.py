"""Event history queries."""

from __future__ import annotations

import sqlalchemy as sa

from server.engine.runtime import Runtime
from server.events.filters import EventFilter
from taskplane.v1 import events_pb2


class EventQueries:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def page(
        self, event_filter: EventFilter, after: int, limit: int
    ) -> tuple[list[events_pb2.Event], int, int]:
        """Up to `limit` matching events after a sequence, with the sequence
        scanned up to and the head of the log."""

        def work(conn: sa.Connection) -> tuple[list[events_pb2.Event], int, int]:
            head = self._rt.event_log.head(conn)
            found: list[events_pb2.Event] = []
            cursor = after
            while len(found) < limit and cursor < head:
                rows = self._rt.event_log.read(
                    conn,
                    after=cursor,
                    limit=max(limit, 200),
                    workspace_id=event_filter.workspace_id,
                    task_id=event_filter.task_id,
                    upto=head,
                )
                if not rows:
                    cursor = head
                    break
                for sequence, body in rows:
                    cursor = sequence
                    event = events_pb2.Event.FromString(body)
                    if event_filter.matches(event):
                        found.append(event)
                        if len(found) == limit:
                            break
            return found, cursor, head

        return await self._rt.read(work)
