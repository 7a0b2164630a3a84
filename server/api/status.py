"""StatusService: version, uptime and dependency checks."""

from __future__ import annotations

import time

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from server import __version__
from taskplane.v1 import status_pb2, status_pb2_grpc


class StatusServicer(status_pb2_grpc.StatusServiceServicer):
    def __init__(self) -> None:
        self._start_time = time.time()

    async def GetStatus(
        self, request: status_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> status_pb2.GetStatusResponse:
        start = timestamp_pb2.Timestamp()
        start.FromNanoseconds(int(self._start_time * 1e9))
        uptime = duration_pb2.Duration()
        uptime.FromNanoseconds(int((time.time() - self._start_time) * 1e9))
        return status_pb2.GetStatusResponse(
            version=__version__, start_time=start, uptime=uptime, ready=True
        )
