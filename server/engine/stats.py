"""A point-in-time picture of the engine for metrics, read when scraped."""

from __future__ import annotations

import asyncio
import collections
import dataclasses

import sqlalchemy as sa

from server.core.clock import now_us
from server.core.errors import Unavailable
from server.core.model import TaskState
from server.engine.runtime import Runtime
from server.store import stats

#: A scrape must answer even while the database does not.
STORE_TIMEOUT_S = 2.0


@dataclasses.dataclass(frozen=True)
class Queue:
    workspace_id: str
    kind: str
    depth: int
    #: How long the oldest task ready to run has waited; 0 when none is ready.
    oldest_age_s: float


@dataclasses.dataclass(frozen=True)
class Stored:
    """What the store says, over every workspace."""

    tasks_by_state: dict[TaskState, int]
    queues: list[Queue]
    #: Online agents per (workspace, task kind they serve).
    agents_online: dict[tuple[str, str], int]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    #: None when the store could not be read.
    stored: Stored | None
    subscribers: int
    #: Events the slowest subscription has yet to scan.
    subscription_lag: int
    #: The last paced delivery round's duration, and the hold after a round
    #: as a fraction of it (see the event hub).
    delivery_round_s: float
    delivery_gap: float
    database_calls_in_flight: int
    #: PostgreSQL connection pool: (checked out, pool size); None on SQLite.
    pool: tuple[int, int] | None


async def snapshot(runtime: Runtime) -> Snapshot:
    try:
        async with asyncio.timeout(STORE_TIMEOUT_S):
            stored: Stored | None = await _stored(runtime)
    except (Unavailable, TimeoutError):
        stored = None
    pool = None
    if runtime.database.async_engine is not None:
        sa_pool = runtime.database.async_engine.pool
        pool = (sa_pool.checkedout(), sa_pool.size())  # type: ignore[attr-defined]
    return Snapshot(
        stored=stored,
        subscribers=runtime.hub.subscribers,
        subscription_lag=runtime.hub.lag(),
        delivery_round_s=runtime.hub.round_s,
        delivery_gap=runtime.hub.gap,
        database_calls_in_flight=runtime.database_calls_in_flight,
        pool=pool,
    )


async def _stored(runtime: Runtime) -> Stored:
    offline_after_us = int(runtime.settings.agent_offline_after_s * 1e6)

    def read(
        conn: sa.Connection,
    ) -> tuple[int, dict[int, int], list[stats.QueueRow], list[tuple[str, list[str]]]]:
        now = now_us()
        return (
            now,
            stats.tasks_by_state(conn),
            stats.queues(conn, now),
            stats.capabilities_seen_since(conn, now - offline_after_us),
        )

    now, by_state, queue_rows, capabilities = await runtime.read(read)
    online: collections.Counter[tuple[str, str]] = collections.Counter()
    for workspace_id, kinds in capabilities:
        online.update((workspace_id, kind) for kind in set(kinds))
    queues = [
        Queue(row.workspace_id, row.kind, row.depth, _age_s(now, row.oldest_available_time))
        for row in queue_rows
    ]
    return Stored(
        tasks_by_state={state: by_state.get(int(state), 0) for state in TaskState},
        queues=queues,
        agents_online=dict(online),
    )


def _age_s(now: int, since: int | None) -> float:
    return 0.0 if since is None else max(now - since, 0) / 1e6
