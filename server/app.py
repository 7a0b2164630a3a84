"""Wiring and lifecycle: builds the gRPC server, starts it, drains it."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.api.health import HealthReporter
from server.config import Settings

log = structlog.get_logger(__name__)

ServiceAdder = Callable[[Any, grpc.aio.Server], None]


@dataclasses.dataclass(frozen=True)
class ServiceBinding:
    """One servicer and the generated function that registers it."""

    full_name: str
    servicer: object
    add_to_server: ServiceAdder


def channel_options(settings: Settings) -> list[tuple[str, int]]:
    """Server channel arguments: message size, streams and keepalive policy."""
    return [
        # Requests and responses above this size fail with RESOURCE_EXHAUSTED.
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # Concurrent HTTP/2 streams (calls) per connection.
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        # Ping idle connections to detect dead peers.
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
        # Keepalive enforcement: a client pinging more often than this earns a
        # strike; after max_ping_strikes it gets GOAWAY (ENHANCE_YOUR_CALM).
        (
            "grpc.http2.min_ping_interval_without_data_ms",
            int(settings.min_client_ping_interval_s * 1000),
        ),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


class TaskplaneServer:
    """A running Taskplane gRPC server and everything it owns."""

    def __init__(
        self,
        settings: Settings,
        services: Sequence[ServiceBinding],
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.settings = settings
        self.health = HealthReporter([binding.full_name for binding in services])
        self._server = grpc.aio.server(
            interceptors=list(interceptors), options=channel_options(settings)
        )
        for binding in services:
            binding.add_to_server(binding.servicer, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, self._server)
        if settings.reflection:
            names = [binding.full_name for binding in services]
            names += [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
            names.append(reflection.SERVICE_NAME)
            reflection.enable_server_reflection(names, self._server)
        self.port = self._server.add_insecure_port(settings.listen_address)
        if self.port == 0:
            raise OSError(f"cannot listen on {settings.listen_address}")
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        host = self.settings.listen_address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def start(self) -> None:
        await self._server.start()
        await self.health.start()
        log.info("server.started", address=self.address)

    async def stop(self) -> None:
        """Drains: readiness first, then no new calls, then in-flight calls get
        the grace period before they are cancelled."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        await self.health.set_ready(False)
        log.info("server.draining", grace_s=self.settings.shutdown_grace_s)
        if self.settings.shutdown_delay_s > 0:
            await asyncio.sleep(self.settings.shutdown_delay_s)
        await self.health.shutdown()
        await self._server.stop(self.settings.shutdown_grace_s)
        log.info("server.stopped")

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT start a graceful stop."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(self.stop()))


def build_server(settings: Settings) -> TaskplaneServer:
    """Creates the server with every v1 service."""
    from server.api.registry import service_bindings

    return TaskplaneServer(settings, service_bindings(settings))


async def run_forever(settings: Settings) -> None:
    """Runs the server until SIGTERM or SIGINT, then drains it."""
    server = build_server(settings)
    await server.start()
    server.install_signal_handlers()
    await server.wait_for_termination()
