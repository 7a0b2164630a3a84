"""The reaper: retries or dead-letters tasks whose lease expired, and fails
queued tasks past their schedule-to-start timeout. Safe to run on every
replica at once: rows are claimed with SKIP LOCKED and re-checked."""

from __future__ import annotations

import asyncio
import contextlib

import sqlalchemy as sa
import structlog

from server.core import lifecycle
from server.core.errors import DatabaseUnavailable
from server.core.model import CallContext, EventDraft
from server.engine.runtime import Runtime

log = structlog.get_logger(__name__)
BATCH = 200


class Reaper:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._rt.settings.reaper_interval_s)
            try:
                while await self.sweep() >= BATCH:
                    pass
            except DatabaseUnavailable as error:
                log.warning("reaper.sweep_skipped", error=error.cause)
            except Exception:
                log.exception("reaper.sweep_failed")

    async def sweep(self) -> int:
        """One pass; returns how many tasks it changed."""

        def work(conn: sa.Connection, now: int) -> tuple[int, list[EventDraft]]:
            drafts: list[EventDraft] = []
            changed = 0
            for task in self._rt.tasks.expired_leases(conn, now, BATCH):
                drafts += lifecycle.expire(task, now)
                self._rt.tasks.update(conn, task)
                changed += 1
            for task in self._rt.tasks.overdue_queued(conn, now, BATCH):
                drafts += lifecycle.schedule_to_start_expired(task, now)
                self._rt.tasks.update(conn, task)
                changed += 1
            return changed, drafts

        # Events of several workspaces: each draft carries its task's ids,
        # and the workspace comes from the task (see EventLog.append).
        changed, _ = await self._rt.transact(CallContext(workspace_id=""), work)
        return changed
