"""Task repository. Every query is scoped to a workspace."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from server.core.model import Task, TaskError, TaskState
from server.store import driver
from server.store.driver import sqlite_of
from server.store.schema import task_labels, tasks

# Statements built once: rebuilding a 36-column statement per call costs more
# than running it.
_INSERT = tasks.insert()
_UPDATE = tasks.update().where(
    tasks.c.id == sa.bindparam("key_id"),
    tasks.c.workspace_id == sa.bindparam("key_workspace_id"),
)
_COLUMNS = tuple(column.name for column in tasks.columns)
#: The columns a task's transitions change, in `_changing_values` order; the
#: others are fixed when the task is created, so an update leaves them (and
#: the indexes on them) alone. tests/unit/test_task_columns.py holds every
#: transition to this.
CHANGING_COLUMNS = (
    "attempt_budget",
    "state",
    "attempt",
    "result",
    "error",
    "agent_id",
    "execution_id",
    "lease_id",
    "lease_expire_time",
    "run_deadline",
    "cancel_reason",
    "update_time",
    "start_time",
    "end_time",
    "available_time",
    "version",
)
# The same as SQL text for the SQLite driver, values in column order.
_INSERT_SQL = driver.insert("tasks", _COLUMNS)
_UPDATE_SQL = driver.update("tasks", CHANGING_COLUMNS, "id = ? AND workspace_id = ?")
_GET_SQL = driver.select("tasks", _COLUMNS, "workspace_id = ? AND id = ?")
_NEXT_QUEUED_SQL = driver.select(
    "tasks",
    _COLUMNS,
    "workspace_id = ? AND state = ? AND kind = ? AND available_time <= ?"
    " ORDER BY priority DESC, create_time, id LIMIT ?",
)
_LEASED = (int(TaskState.RUNNING), int(TaskState.CANCEL_REQUESTED))
# PostgreSQL's hot statements, built once: SQLAlchemy then finds their
# compiled form by identity instead of computing a cache key per call.
_PG_GET = sa.select(tasks).where(
    tasks.c.workspace_id == sa.bindparam("workspace_id"), tasks.c.id == sa.bindparam("task_id")
)
_PG_GET_LOCKED = _PG_GET.with_for_update()
_PG_NEXT_QUEUED = (
    sa.select(tasks)
    .where(
        tasks.c.workspace_id == sa.bindparam("workspace_id"),
        tasks.c.state == int(TaskState.QUEUED),
        tasks.c.kind.in_(sa.bindparam("kinds", expanding=True)),
        tasks.c.available_time <= sa.bindparam("now"),
    )
    .order_by(tasks.c.priority.desc(), tasks.c.create_time, tasks.c.id)
    .limit(sa.bindparam("limit"))
    .with_for_update(skip_locked=True)
)


def _changing_values(task: Task) -> tuple[Any, ...]:
    """Values of CHANGING_COLUMNS, in that order."""
    return (
        task.attempt_budget,
        int(task.state),
        task.attempt,
        task.result_json,
        _error_json(task.error),
        task.agent_id,
        task.execution_id,
        task.lease_id,
        task.lease_expire_time,
        task.run_deadline,
        task.cancel_reason,
        task.update_time,
        task.start_time,
        task.end_time,
        task.available_time,
        task.version,
    )


def _to_row(task: Task) -> dict[str, Any]:
    """Every column's value: those fixed at creation, then the changing ones."""
    return {
        "id": task.id,
        "workspace_id": task.workspace_id,
        "kind": task.kind,
        "input": task.input_json,
        "labels": json.dumps(task.labels, sort_keys=True),
        "priority": task.priority,
        "max_attempts": task.max_attempts,
        "initial_backoff_us": task.initial_backoff_us,
        "max_backoff_us": task.max_backoff_us,
        "backoff_multiplier": task.backoff_multiplier,
        "schedule_to_start_us": task.schedule_to_start_us,
        "run_timeout_us": task.run_timeout_us,
        "heartbeat_timeout_us": task.heartbeat_timeout_us,
        "correlation_id": task.correlation_id,
        "traceparent": task.traceparent,
        "request_id": task.request_id,
        "guard_findings": task.guard_findings_json,
        "create_time": task.create_time,
        **dict(zip(CHANGING_COLUMNS, _changing_values(task), strict=True)),
    }


def _to_values(task: Task) -> tuple[Any, ...]:
    """Column values in table order (see schema.tasks)."""
    row = _to_row(task)
    return tuple(row[name] for name in _COLUMNS)


def _error_json(error: TaskError | None) -> str | None:
    if error is None:
        return None
    return json.dumps(
        {
            "code": error.code,
            "message": error.message,
            "retryable": error.retryable,
            "details": error.details_json,
        }
    )


def _from_values(values: Sequence[Any]) -> Task:
    return _from_row(dict(zip(_COLUMNS, values, strict=True)))


def _from_row(row: Mapping[str, Any] | sa.RowMapping) -> Task:
    error = json.loads(row["error"]) if row["error"] else None
    return Task(
        id=row["id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        input_json=row["input"],
        labels=json.loads(row["labels"]),
        priority=row["priority"],
        max_attempts=row["max_attempts"],
        attempt_budget=row["attempt_budget"],
        initial_backoff_us=row["initial_backoff_us"],
        max_backoff_us=row["max_backoff_us"],
        backoff_multiplier=row["backoff_multiplier"],
        schedule_to_start_us=row["schedule_to_start_us"],
        run_timeout_us=row["run_timeout_us"],
        heartbeat_timeout_us=row["heartbeat_timeout_us"],
        state=TaskState(row["state"]),
        attempt=row["attempt"],
        result_json=row["result"],
        error=TaskError(error["code"], error["message"], error["retryable"], error["details"])
        if error
        else None,
        correlation_id=row["correlation_id"],
        traceparent=row["traceparent"],
        request_id=row["request_id"],
        agent_id=row["agent_id"],
        execution_id=row["execution_id"],
        lease_id=row["lease_id"],
        lease_expire_time=row["lease_expire_time"],
        run_deadline=row["run_deadline"],
        cancel_reason=row["cancel_reason"],
        guard_findings_json=row["guard_findings"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        available_time=row["available_time"],
        version=row["version"],
    )


class TaskRepository:
    def __init__(self, *, for_update: bool) -> None:
        # FOR UPDATE locks rows on PostgreSQL; SQLite already holds the
        # database lock for the whole write transaction. The hot statements
        # go straight to the SQLite driver.
        self._for_update = for_update
        self._sqlite = not for_update

    def _lock(self, query: sa.Select[Any], *, skip_locked: bool = False) -> sa.Select[Any]:
        return query.with_for_update(skip_locked=skip_locked) if self._for_update else query

    def insert(self, conn: Connection, task: Task) -> None:
        if self._sqlite:
            sqlite_of(conn).execute(_INSERT_SQL, _to_values(task))
        else:
            conn.execute(_INSERT, _to_row(task))
        if task.labels:
            conn.execute(
                task_labels.insert(),
                [
                    {"task_id": task.id, "key": k, "value": v, "workspace_id": task.workspace_id}
                    for k, v in task.labels.items()
                ],
            )

    def update(self, conn: Connection, task: Task) -> None:
        """Writes what a transition changed (CHANGING_COLUMNS)."""
        values = _changing_values(task)
        if self._sqlite:
            sqlite_of(conn).execute(_UPDATE_SQL, (*values, task.id, task.workspace_id))
            return
        row = dict(zip(CHANGING_COLUMNS, values, strict=True))
        conn.execute(_UPDATE, {**row, "key_id": task.id, "key_workspace_id": task.workspace_id})

    def get(
        self, conn: Connection, workspace_id: str, task_id: str, *, lock: bool = False
    ) -> Task | None:
        if self._sqlite:
            found = sqlite_of(conn).execute(_GET_SQL, (workspace_id, task_id)).fetchone()
            return _from_values(found) if found else None
        query = _PG_GET_LOCKED if lock and self._for_update else _PG_GET
        params = {"workspace_id": workspace_id, "task_id": task_id}
        row = conn.execute(query, params).mappings().first()
        return _from_row(row) if row else None

    def get_by_request_id(
        self, conn: Connection, workspace_id: str, request_id: str
    ) -> Task | None:
        query = sa.select(tasks).where(
            tasks.c.workspace_id == workspace_id, tasks.c.request_id == request_id
        )
        row = (conn.execute(query)).mappings().first()
        return _from_row(row) if row else None

    def list(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        states: Sequence[int],
        kinds: Sequence[str],
        labels: dict[str, str],
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[Task]:
        """Newest first; `before` is the (create_time, id) of the last task seen."""
        query = sa.select(tasks).where(tasks.c.workspace_id == workspace_id)
        if states:
            query = query.where(tasks.c.state.in_(list(states)))
        if kinds:
            query = query.where(tasks.c.kind.in_(list(kinds)))
        for key, value in labels.items():
            query = query.where(
                sa.exists().where(
                    task_labels.c.task_id == tasks.c.id,
                    task_labels.c.key == key,
                    task_labels.c.value == value,
                )
            )
        if before is not None:
            query = query.where(
                sa.tuple_(tasks.c.create_time, tasks.c.id) < sa.tuple_(*map(sa.literal, before))
            )
        query = query.order_by(tasks.c.create_time.desc(), tasks.c.id.desc()).limit(limit)
        return [_from_row(row) for row in (conn.execute(query)).mappings()]

    def next_queued(
        self, conn: Connection, workspace_id: str, kinds: Sequence[str], now: int, limit: int
    ) -> builtins.list[Task]:
        """Queued tasks ready to run, highest priority then oldest, locked."""
        if self._sqlite:
            # One index range per kind, read in lease order (ix_tasks_queue);
            # for several kinds the heads are merged here, which reads at most
            # `limit` rows per kind instead of sorting every queued task.
            cursor = sqlite_of(conn)
            found = [
                _from_values(row)
                for kind in dict.fromkeys(kinds)
                for row in cursor.execute(
                    _NEXT_QUEUED_SQL, (workspace_id, int(TaskState.QUEUED), kind, now, limit)
                )
            ]
            if len(kinds) > 1:
                found.sort(key=lambda task: (-task.priority, task.create_time, task.id))
            return found[:limit]
        params = {"workspace_id": workspace_id, "kinds": list(kinds), "now": now, "limit": limit}
        return [_from_row(row) for row in conn.execute(_PG_NEXT_QUEUED, params).mappings()]

    def has_queued(
        self, conn: Connection, workspace_id: str, kinds: Sequence[str], now: int
    ) -> bool:
        """Whether any task of these kinds is ready to lease (a cheap read)."""
        if self._sqlite:
            sql = driver.select(
                "tasks",
                ["id"],
                f"workspace_id = ? AND state = ? AND kind IN ({driver.marks(len(kinds))}) "
                "AND available_time <= ? LIMIT 1",
            )
            params = (workspace_id, int(TaskState.QUEUED), *kinds, now)
            return sqlite_of(conn).execute(sql, params).fetchone() is not None
        query = (
            sa.select(tasks.c.id)
            .where(
                tasks.c.workspace_id == workspace_id,
                tasks.c.state == int(TaskState.QUEUED),
                tasks.c.kind.in_(list(kinds)),
                tasks.c.available_time <= now,
            )
            .limit(1)
        )
        return conn.execute(query).first() is not None

    def queued_by_kind(self, conn: Connection, workspace_id: str) -> dict[str, int]:
        """Queued tasks of each kind, including those waiting out a retry backoff."""
        query = (
            sa.select(tasks.c.kind, sa.func.count())
            .where(tasks.c.workspace_id == workspace_id, tasks.c.state == int(TaskState.QUEUED))
            .group_by(tasks.c.kind)
        )
        return {kind: int(count) for kind, count in conn.execute(query)}

    def expired_leases(self, conn: Connection, now: int, limit: int) -> builtins.list[Task]:
        """Leased tasks of any workspace whose lease lapsed (the reaper's work)."""
        query = (
            sa.select(tasks)
            .where(
                tasks.c.state.in_([int(TaskState.RUNNING), int(TaskState.CANCEL_REQUESTED)]),
                tasks.c.lease_expire_time <= now,
            )
            .limit(limit)
        )
        query = self._lock(query, skip_locked=True)
        return [_from_row(row) for row in (conn.execute(query)).mappings()]

    def overdue_queued(self, conn: Connection, now: int, limit: int) -> builtins.list[Task]:
        """Queued tasks past their schedule-to-start deadline."""
        query = (
            sa.select(tasks)
            .where(
                tasks.c.state == int(TaskState.QUEUED),
                tasks.c.schedule_to_start_us > 0,
                tasks.c.create_time + tasks.c.schedule_to_start_us <= now,
            )
            .limit(limit)
        )
        query = self._lock(query, skip_locked=True)
        return [_from_row(row) for row in (conn.execute(query)).mappings()]

    def active_leases_by_agent(
        self, conn: Connection, workspace_id: str, agent_ids: Sequence[str]
    ) -> dict[str, int]:
        if self._sqlite:
            sql = driver.select(
                "tasks",
                ["agent_id"],
                f"workspace_id = ? AND agent_id IN ({driver.marks(len(agent_ids))}) "
                "AND state IN (?, ?)",
            )
            params = (workspace_id, *agent_ids, *_LEASED)
            counts: dict[str, int] = {}
            for (agent_id,) in sqlite_of(conn).execute(sql, params):
                counts[agent_id] = counts.get(agent_id, 0) + 1
            return counts
        query = (
            sa.select(tasks.c.agent_id, sa.func.count())
            .where(
                tasks.c.workspace_id == workspace_id,
                tasks.c.agent_id.in_(list(agent_ids)),
                tasks.c.state.in_([int(TaskState.RUNNING), int(TaskState.CANCEL_REQUESTED)]),
            )
            .group_by(tasks.c.agent_id)
        )
        return {row[0]: int(row[1]) for row in conn.execute(query)}
