"""Aggregate reads over every workspace, for metrics: tasks by state, the
queue by workspace and kind, and the capabilities of agents seen lately."""

from __future__ import annotations

import dataclasses
import json

import sqlalchemy as sa
from sqlalchemy import Connection

from server.core.model import TaskState
from server.store.schema import agents, tasks


@dataclasses.dataclass(frozen=True)
class QueueRow:
    workspace_id: str
    kind: str
    #: Queued tasks, including those waiting out a retry backoff.
    depth: int
    #: Earliest time (µs) a queued task became ready to run; None if none is ready yet.
    oldest_available_time: int | None


def tasks_by_state(conn: Connection) -> dict[int, int]:
    query = sa.select(tasks.c.state, sa.func.count()).group_by(tasks.c.state)
    return {int(state): int(count) for state, count in conn.execute(query)}


def queues(conn: Connection, now: int) -> list[QueueRow]:
    ready = sa.case((tasks.c.available_time <= now, tasks.c.available_time))
    query = (
        sa.select(tasks.c.workspace_id, tasks.c.kind, sa.func.count(), sa.func.min(ready))
        .where(tasks.c.state == int(TaskState.QUEUED))
        .group_by(tasks.c.workspace_id, tasks.c.kind)
    )
    return [
        QueueRow(workspace_id, kind, int(depth), None if oldest is None else int(oldest))
        for workspace_id, kind, depth, oldest in conn.execute(query)
    ]


def capabilities_seen_since(conn: Connection, since: int) -> list[tuple[str, list[str]]]:
    """(workspace, task kinds) of each agent heard from at or after `since`."""
    query = sa.select(agents.c.workspace_id, agents.c.capabilities).where(
        agents.c.last_seen_time >= since
    )
    return [(workspace_id, json.loads(kinds)) for workspace_id, kinds in conn.execute(query)]
