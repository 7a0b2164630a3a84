"""Task commands: create, get, list, cancel, wait, requeue."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import sqlalchemy as sa
import sqlalchemy.exc

from server.core import lifecycle
from server.core.errors import NotFound
from server.core.ids import new_id
from server.core.model import CallContext, EventDraft, Task, TaskState
from server.engine.runtime import Runtime
from taskplane.v1 import tasks_pb2

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_INITIAL_BACKOFF_US = 1_000_000
DEFAULT_MAX_BACKOFF_US = 300_000_000
DEFAULT_BACKOFF_MULTIPLIER = 2.0
DEFAULT_HEARTBEAT_US = 30_000_000


@dataclasses.dataclass(frozen=True)
class NewTask:
    """What a client asks for; zero values take the defaults."""

    kind: str
    input_json: str = "{}"
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    priority: int = 0
    max_attempts: int = 0
    initial_backoff_us: int = 0
    max_backoff_us: int = 0
    backoff_multiplier: float = 0.0
    schedule_to_start_us: int = 0
    run_timeout_us: int = 0
    heartbeat_timeout_us: int = 0
    guard_findings_json: str = "[]"


@dataclasses.dataclass(frozen=True)
class Created:
    task: Task
    deduplicated: bool
    """The task existed already for the request id."""
    message: tasks_pb2.Task | None = None
    """The new task as its `task.created` event carries it (None when
    deduplicated), so the answer need not convert it again."""


@dataclasses.dataclass(frozen=True)
class TaskQuery:
    states: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    labels: dict[str, str] = dataclasses.field(default_factory=dict)


def build_task(spec: NewTask, ctx: CallContext, request_id: str | None, now: int) -> Task:
    max_attempts = spec.max_attempts or DEFAULT_MAX_ATTEMPTS
    return Task(
        id=new_id("tsk"),
        workspace_id=ctx.workspace_id,
        kind=spec.kind,
        input_json=spec.input_json,
        labels=dict(spec.labels),
        priority=spec.priority,
        max_attempts=max_attempts,
        attempt_budget=max_attempts,
        initial_backoff_us=spec.initial_backoff_us or DEFAULT_INITIAL_BACKOFF_US,
        max_backoff_us=spec.max_backoff_us or DEFAULT_MAX_BACKOFF_US,
        backoff_multiplier=spec.backoff_multiplier or DEFAULT_BACKOFF_MULTIPLIER,
        schedule_to_start_us=spec.schedule_to_start_us,
        run_timeout_us=spec.run_timeout_us,
        heartbeat_timeout_us=spec.heartbeat_timeout_us or DEFAULT_HEARTBEAT_US,
        state=TaskState.QUEUED,
        attempt=0,
        correlation_id=ctx.correlation_id,
        traceparent=ctx.traceparent,
        request_id=request_id,
        create_time=now,
        update_time=now,
        available_time=now,
        guard_findings_json=spec.guard_findings_json,
    )


class TaskCommands:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def create(self, ctx: CallContext, spec: NewTask, request_id: str | None) -> Created:

        def work(conn: sa.Connection, now: int) -> tuple[tuple[Task, bool], list[EventDraft]]:
            if request_id:
                existing = self._rt.tasks.get_by_request_id(conn, ctx.workspace_id, request_id)
                if existing is not None:
                    return (existing, True), []
            task = build_task(spec, ctx, request_id, now)
            self._rt.tasks.insert(conn, task)
            return (task, False), lifecycle.created(task)

        try:
            (task, deduplicated), events = await self._rt.transact(ctx, work)
        except (sqlalchemy.exc.IntegrityError, sqlite3.IntegrityError):
            # A concurrent create with the same request id won the race.
            if not request_id:
                raise
            existing = await self._rt.read(
                lambda conn: self._rt.tasks.get_by_request_id(conn, ctx.workspace_id, request_id)
            )
            if existing is None:
                raise
            return Created(existing, True)
        return Created(task, deduplicated, events[0].task_created.task if events else None)

    async def get(self, workspace_id: str, task_id: str) -> Task:
        task = await self._rt.read_point(
            lambda conn: self._rt.tasks.get(conn, workspace_id, task_id)
        )
        if task is None:
            raise NotFound("task", task_id)
        return task

    async def list(
        self, workspace_id: str, query: TaskQuery, before: tuple[int, str] | None, limit: int
    ) -> list[Task]:
        return await self._rt.read(
            lambda conn: self._rt.tasks.list(
                conn,
                workspace_id,
                states=query.states,
                kinds=query.kinds,
                labels=query.labels,
                before=before,
                limit=limit,
            )
        )

    async def _mutate(self, ctx: CallContext, task_id: str, change: lifecycle.Transition) -> Task:
        def work(conn: sa.Connection, now: int) -> tuple[Task, list[EventDraft]]:
            task = self._rt.tasks.get(conn, ctx.workspace_id, task_id, lock=True)
            if task is None:
                raise NotFound("task", task_id)
            drafts = change(task, now)
            if drafts:
                self._rt.tasks.update(conn, task)
            return task, drafts

        task, _ = await self._rt.transact(ctx, work)
        return task

    async def cancel(self, ctx: CallContext, task_id: str, reason: str) -> Task:
        return await self._mutate(
            ctx, task_id, lambda task, now: lifecycle.cancel(task, reason, now)
        )

    async def requeue(self, ctx: CallContext, task_id: str, extra_attempts: int) -> Task:
        return await self._mutate(
            ctx, task_id, lambda task, now: lifecycle.requeue(task, extra_attempts, now)
        )

    async def wait(self, workspace_id: str, task_id: str, timeout_s: float) -> Task:
        """Returns once the task is terminal or the timeout passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            seen = self._rt.hub.head
            task = await self.get(workspace_id, task_id)
            remaining = deadline - loop.time()
            if task.state.terminal or remaining <= 0:
                return task
            with self._rt.activity.parked():
                await self._rt.hub.wait_for_event(
                    seen, lambda event: event.task_id == task_id, min(remaining, 5.0)
                )
