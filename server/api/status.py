"""StatusService: version, uptime and the dependency checks."""

from __future__ import annotations

import time
from typing import Any

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from server import __version__
from server.api.call import current_call
from server.engine.health_checks import DependencyChecks
from server.engine.runtime import Runtime
from taskplane.v1 import status_pb2, status_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


class StatusServicer(status_pb2_grpc.StatusServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._checks = DependencyChecks(runtime)
        self._start_time = time.time()

    async def GetStatus(
        self, request: status_pb2.GetStatusRequest, context: Context
    ) -> status_pb2.GetStatusResponse:
        report = await self._checks.report(current_call().workspace_id)
        start = timestamp_pb2.Timestamp()
        start.FromNanoseconds(int(self._start_time * 1e9))
        return status_pb2.GetStatusResponse(
            version=__version__,
            start_time=start,
            uptime=_duration(time.time() - self._start_time),
            ready=report.ready,
            dependencies=[
                status_pb2.DependencyStatus(
                    name=check.name,
                    state=status_pb2.DependencyState.ValueType(check.state),
                    latency=_duration(check.latency_s),
                    detail=check.detail,
                    critical=check.critical,
                )
                for check in report.checks
            ],
            capabilities=[
                status_pb2.CapabilityStatus(
                    kind=c.kind, online_agents=c.online_agents, queued_tasks=c.queued_tasks
                )
                for c in report.capabilities
            ],
        )
