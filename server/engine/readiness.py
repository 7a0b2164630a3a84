"""Readiness follows the critical dependency check: a monitor runs it every
interval and reports each change of its verdict."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from server.engine.health_checks import CheckState, DependencyChecks

log = structlog.get_logger(__name__)


class ReadinessMonitor:
    def __init__(
        self,
        checks: DependencyChecks,
        interval_s: float,
        report: Callable[[bool], Awaitable[None]],
    ) -> None:
        self._checks = checks
        self._interval_s = interval_s
        self._report = report
        self._task: asyncio.Task[None] | None = None
        #: A server starts ready: its start has just migrated the database.
        self.ready = True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="readiness")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            result = await self._checks.database()
            ready = result.state == CheckState.OK
            if ready == self.ready:
                continue
            self.ready = ready
            if ready:
                log.info("readiness.serving", check=result.name)
            else:
                log.warning("readiness.not_serving", check=result.name, detail=result.detail)
            await self._report(ready)
