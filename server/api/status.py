"""StatusService: version, uptime and dependency checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from server import __version__
from server.engine.runtime import Runtime
from server.store.migrate import current_revision, head_revision
from taskplane.v1 import status_pb2, status_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
CHECK_TIMEOUT_S = 2.0
OK = status_pb2.DEPENDENCY_STATE_OK
DOWN = status_pb2.DEPENDENCY_STATE_DOWN


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


class StatusServicer(status_pb2_grpc.StatusServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._start_time = time.time()

    async def _database(self) -> tuple[int, str]:
        revision = await self._rt.read(current_revision)
        head = head_revision()
        if revision != head:
            return DOWN, f"schema at {revision or 'none'}, code expects {head}"
        kind = "sqlite" if self._rt.database.is_sqlite else "postgresql"
        return OK, f"{kind}, schema {revision}"

    async def _event_hub(self) -> tuple[int, str]:
        head = await self._rt.read(self._rt.event_log.head)
        lag = head - self._rt.hub.head
        return OK, f"lag {lag} events, {self._rt.hub.subscribers} subscribers"

    async def _check(
        self, name: str, critical: bool, probe: Callable[[], Awaitable[tuple[int, str]]]
    ) -> status_pb2.DependencyStatus:
        started = time.perf_counter()
        try:
            state, detail = await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        except TimeoutError:
            state, detail = DOWN, f"no answer within {CHECK_TIMEOUT_S} s"
        except Exception as error:
            state, detail = DOWN, type(error).__name__
        return status_pb2.DependencyStatus(
            name=name,
            state=state,  # type: ignore[arg-type]
            latency=_duration(time.perf_counter() - started),
            detail=detail,
            critical=critical,
        )

    async def GetStatus(
        self, request: status_pb2.GetStatusRequest, context: Context
    ) -> status_pb2.GetStatusResponse:
        checks = await asyncio.gather(
            self._check("database", True, self._database),
            self._check("event_hub", False, self._event_hub),
        )
        start = timestamp_pb2.Timestamp()
        start.FromNanoseconds(int(self._start_time * 1e9))
        return status_pb2.GetStatusResponse(
            version=__version__,
            start_time=start,
            uptime=_duration(time.time() - self._start_time),
            ready=all(check.state == OK for check in checks if check.critical),
            dependencies=checks,
        )
