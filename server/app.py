"""Wiring and lifecycle: builds the gRPC server and everything it owns,
starts it, and drains it on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import grpc
import structlog
from grpc_health.v1 import health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from opentelemetry import trace

from server import event_loop, gc_tuning
from server.api.health import HealthReporter
from server.api.interceptor import CallInterceptor
from server.api.registry import service_bindings
from server.config import Settings
from server.engine.health_checks import DependencyChecks
from server.engine.readiness import ReadinessMonitor
from server.engine.reaper import Reaper
from server.engine.runtime import Runtime
from server.engine.stats import snapshot
from server.engine.workspaces import WorkspaceCommands
from server.observability import tracing
from server.observability.metrics import Metrics
from server.security.authn import ApiKeyAuthenticator
from server.security.limits import RateLimiter, StreamLimiter
from server.security.screening import Screener
from taskplane.guard import GuardPolicy

log = structlog.get_logger(__name__)

HEALTH_SERVICE = "grpc.health.v1.Health"


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


def add_port(server: grpc.aio.Server, settings: Settings) -> int:
    """The main listener: TLS when a certificate is configured, mutual TLS
    when a client CA is too, plaintext otherwise."""
    if not settings.tls:
        return server.add_insecure_port(settings.listen_address)
    client_ca = (
        Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    )
    credentials = grpc.ssl_server_credentials(
        [(Path(settings.tls_key_file).read_bytes(), Path(settings.tls_cert_file).read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
    return server.add_secure_port(settings.listen_address, credentials)


class GenericHandlersOnly:
    """Lets the generated `add_*_to_server` functions add their services as
    generic handlers only, each behind the call pipeline. For each
    *registered* method grpc aio keeps a request for the next call pending
    and, whenever a call arrives, waits on all of them again: an
    `asyncio.wait` over some thirty futures for every call, about a tenth of
    the CPU of a small call. With generic handlers alone it waits on one, as
    the bare baseline does; the generic handler each of those functions also
    adds serves the same methods."""

    def __init__(self, server: grpc.aio.Server, pipeline: CallInterceptor) -> None:
        self._server = server
        self._pipeline = pipeline

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            [self._pipeline.intercepting(handler) for handler in handlers]
        )

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        """Not registered: see the class docstring."""


class TaskplaneServer:
    """A Taskplane server process: engine, gRPC server and health. With a
    tracer provider, every RPC gets a span; with a metrics address, metrics."""

    def __init__(
        self, settings: Settings, tracer_provider: trace.TracerProvider | None = None
    ) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.reaper = Reaper(self.runtime)
        self.authenticator = ApiKeyAuthenticator(self.runtime)
        screener = Screener(GuardPolicy(settings.guard_policy))
        services = service_bindings(self.runtime, self.authenticator, screener)
        self.health = HealthReporter([binding.full_name for binding in services])
        self.readiness = ReadinessMonitor(
            DependencyChecks(self.runtime), settings.readiness_interval_s, self.health.set_ready
        )
        public = ["/" + HEALTH_SERVICE + "/"]
        if settings.reflection:
            public.append("/grpc.reflection.")
        self.metrics: Metrics | None = None
        self.metrics_port = 0
        if settings.metrics_listen_address:
            self.metrics = Metrics(lambda: snapshot(self.runtime), lambda: self.health.ready)
            self.runtime.observers.append(self.metrics)
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if tracer_provider is not None:
            interceptors.append(tracing.server_interceptor(tracer_provider))
        pipeline = CallInterceptor(
            self.authenticator,
            tuple(public),
            RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
            StreamLimiter(settings.max_streams_per_key),
            self.metrics,
            self.runtime.activity,
            traced=tracer_provider is not None,
        )
        self._server = grpc.aio.server(interceptors=interceptors, options=channel_options(settings))
        handlers = cast(grpc.aio.Server, GenericHandlersOnly(self._server, pipeline))
        for binding in services:
            binding.add_to_server(binding.servicer, handlers)
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, handlers)
        if settings.reflection:
            names = [binding.full_name for binding in services]
            names += [HEALTH_SERVICE, reflection.SERVICE_NAME]
            # What enable_server_reflection does for an aio server.
            reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
                reflection.aio.ReflectionServicer(names), handlers
            )
        self.port = add_port(self._server, settings)
        # Kubernetes probes speak neither TLS nor auth: health only, plaintext.
        self._health_server: grpc.aio.Server | None = None
        self.health_port = 0
        if settings.health_listen_address:
            self._health_server = grpc.aio.server(options=channel_options(settings))
            health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, self._health_server)
            self.health_port = self._health_server.add_insecure_port(settings.health_listen_address)
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        host = self.settings.listen_address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def start(self) -> None:
        await self.runtime.start()
        await WorkspaceCommands(self.runtime).bootstrap(self.settings.data_dir)
        self.reaper.start()
        await self._server.start()
        if self._health_server is not None:
            await self._health_server.start()
        await self.health.start()
        self.readiness.start()
        if self.metrics is not None:
            self.metrics_port = self.metrics.start(self.settings.metrics_listen_address)
        log.info(
            "server.started",
            address=self.address,
            port=self.port,
            pid=os.getpid(),
            event_loop=event_loop.running(),
        )

    async def stop(self) -> None:
        """Drains: readiness first, then no new calls, then in-flight calls get
        the grace period before they are cancelled. A second caller waits
        for the first one to finish."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        await self.readiness.stop()
        await self.health.set_ready(False)
        self.runtime.hub.close_streams()
        log.info("server.draining", grace_s=self.settings.shutdown_grace_s)
        if self.settings.shutdown_delay_s > 0:
            await asyncio.sleep(self.settings.shutdown_delay_s)
        await self.health.shutdown()
        await self._server.stop(self.settings.shutdown_grace_s)
        if self._health_server is not None:
            await self._health_server.stop(0)
        await self.reaper.stop()
        if self.metrics is not None:
            await self.metrics.stop()
        await self.runtime.stop()
        self._stopped.set()
        log.info("server.stopped")

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT start a graceful stop."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(self.stop()))


async def run_forever(settings: Settings) -> None:
    """Runs the server until SIGTERM or SIGINT, then drains it."""
    provider = tracing.tracer_provider(settings)
    if provider is not None:
        trace.set_tracer_provider(provider)
    server = TaskplaneServer(settings, provider)
    await server.start()
    gc_tuning.tune_after_start()
    server.install_signal_handlers()
    await server.wait_for_termination()
    await server.stop()
    if provider is not None:
        provider.shutdown()
