"""The standard grpc.health.v1 service, with the names Taskplane reports on.

`liveness` is SERVING while the process runs; `readiness` and `""` follow the
critical dependencies and turn NOT_SERVING first on shutdown; each
`taskplane.v1.*Service` name follows readiness.
"""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

LIVENESS = "liveness"
READINESS = "readiness"
OVERALL = ""

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthReporter:
    """Owns the health servicer and keeps its statuses consistent."""

    def __init__(self, service_names: list[str]) -> None:
        self.servicer = health.aio.HealthServicer()
        self._service_names = list(service_names)
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    async def start(self) -> None:
        await self.servicer.set(LIVENESS, SERVING)
        await self.set_ready(True)

    async def set_ready(self, ready: bool) -> None:
        """Flips readiness, the overall status and every service name together."""
        self._ready = ready
        status = SERVING if ready else NOT_SERVING
        for name in (READINESS, OVERALL, *self._service_names):
            await self.servicer.set(name, status)

    async def shutdown(self) -> None:
        """Reports NOT_SERVING for everything and ignores later changes."""
        self._ready = False
        await self.servicer.enter_graceful_shutdown()
