"""Prometheus metrics of one server, in a registry of its own (several servers
may share a process), served over plain HTTP on a separate port.

Counters move as things happen: calls (from the call interceptor) and
appended events (from the engine, after commit). Gauges of tasks, queues,
agents, subscriptions and the database are read when scraped, on the
server's event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from wsgiref.simple_server import WSGIServer

import grpc
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.engine.stats import Snapshot, Stored
from taskplane.v1 import events_pb2

log = structlog.get_logger(__name__)

SCRAPE_TIMEOUT_S = 5.0
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LEASE_EXPIRED = events_pb2.EXECUTION_OUTCOME_LEASE_EXPIRED


class Metrics:
    """The registry, its counters and its HTTP listener; a CallObserver and
    an EngineObserver."""

    def __init__(
        self, snapshot: Callable[[], Awaitable[Snapshot]], ready: Callable[[], bool]
    ) -> None:
        self.registry = CollectorRegistry()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._rpcs = Counter(
            "taskplane_rpcs",
            "Finished RPCs by method and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self._rpc_duration = Histogram(
            "taskplane_rpc_duration_seconds",
            "RPC duration by method (streams: their whole life).",
            ["method"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._events = Counter(
            "taskplane_events_appended",
            "Events this server appended to the log, by type.",
            ["type"],
            registry=self.registry,
        )
        self._lease_expiries = Counter(
            "taskplane_lease_expiries",
            "Attempts whose lease lapsed or whose run timeout passed, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._retries = Counter(
            "taskplane_task_retries",
            "Tasks queued again for another attempt.",
            registry=self.registry,
        )
        self._dead_letters = Counter(
            "taskplane_tasks_dead_lettered",
            "Tasks parked after their last allowed attempt failed.",
            registry=self.registry,
        )
        # The labelled series of each method and status, and of each event
        # type (both sets are finite: served methods, catalogued types).
        self._call_series: dict[tuple[str, grpc.StatusCode], tuple[Counter, Histogram]] = {}
        self._event_series: dict[str, Counter] = {}
        self._scrape = _ScrapeCollector(snapshot, ready)
        self.registry.register(self._scrape)

    def start(self, address: str) -> int:
        """Serves the registry on `host:port` (port 0: any free one; every
        path answers); returns the port. Call it on the server's loop."""
        self._scrape.loop = asyncio.get_running_loop()
        host, _, port = address.rpartition(":")
        self._server, self._thread = start_http_server(
            int(port), host.strip("[]"), registry=self.registry
        )
        return int(self._server.server_port)

    async def stop(self) -> None:
        if self._server is None:
            return
        await asyncio.to_thread(self._server.shutdown)
        self._server.server_close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def call_finished(self, method: str, code: grpc.StatusCode, duration_s: float) -> None:
        series = self._call_series.get((method, code))
        if series is None:
            # Labelled series looked up once: `labels()` costs twice the update.
            name = method.lstrip("/")
            series = self._rpcs.labels(name, code.name), self._rpc_duration.labels(name)
            self._call_series[(method, code)] = series
        series[0].inc()
        series[1].observe(duration_s)

    def events_appended(self, events: Sequence[events_pb2.Event]) -> None:
        for event in events:
            counter = self._event_series.get(event.type)
            if counter is None:
                counter = self._event_series[event.type] = self._events.labels(event.type)
            counter.inc()
            if event.type == "task.retrying":
                self._retries.inc()
            elif event.type == "task.dead_lettered":
                self._dead_letters.inc()
            elif (
                event.type == "execution.completed"
                and event.execution_completed.outcome == LEASE_EXPIRED
            ):
                self._lease_expiries.labels(event.execution_completed.error.code).inc()


class _ScrapeCollector(Collector):
    """Gauges computed on the server's loop at scrape time (the HTTP server
    answers on its own threads)."""

    def __init__(
        self, snapshot: Callable[[], Awaitable[Snapshot]], ready: Callable[[], bool]
    ) -> None:
        self._snapshot = snapshot
        self._ready = ready
        self.loop: asyncio.AbstractEventLoop | None = None

    async def _sample(self) -> tuple[Snapshot, bool]:
        return await self._snapshot(), self._ready()

    def collect(self) -> Iterator[Metric]:
        if self.loop is None:
            return
        future: concurrent.futures.Future[tuple[Snapshot, bool]] | None = None
        try:
            future = asyncio.run_coroutine_threadsafe(self._sample(), self.loop)
            snapshot, ready = future.result(SCRAPE_TIMEOUT_S)
        except Exception as error:  # the counters are still served
            if future is not None:
                future.cancel()
            log.warning("metrics.scrape_failed", error=type(error).__name__)
            return
        yield _gauge("taskplane_ready", "1 while the server reports readiness SERVING.", ready)
        yield _gauge(
            "taskplane_database_up", "1 when this scrape could read the store.", snapshot.stored
        )
        if snapshot.stored is not None:
            yield from _stored_metrics(snapshot.stored)
        yield from _process_metrics(snapshot)


def _gauge(name: str, documentation: str, value: object) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=1 if value else 0)


def _stored_metrics(snapshot: Stored) -> Iterator[Metric]:
    tasks = GaugeMetricFamily("taskplane_tasks", "Tasks by state.", labels=["state"])
    for state, count in snapshot.tasks_by_state.items():
        tasks.add_metric([state.name.lower()], count)
    yield tasks
    depth = GaugeMetricFamily(
        "taskplane_queue_depth",
        "Queued tasks (including those in retry backoff) by workspace and kind.",
        labels=["workspace", "kind"],
    )
    age = GaugeMetricFamily(
        "taskplane_queue_oldest_age_seconds",
        "How long the oldest task ready to run has waited, by workspace and kind.",
        labels=["workspace", "kind"],
    )
    for queue in snapshot.queues:
        depth.add_metric([queue.workspace_id, queue.kind], queue.depth)
        age.add_metric([queue.workspace_id, queue.kind], queue.oldest_age_s)
    yield depth
    yield age
    agents = GaugeMetricFamily(
        "taskplane_agents_online",
        "Online agents by workspace and task kind they serve.",
        labels=["workspace", "kind"],
    )
    for (workspace_id, kind), count in snapshot.agents_online.items():
        agents.add_metric([workspace_id, kind], count)
    yield agents


def _process_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "taskplane_subscribers", "Open Subscribe streams.", value=snapshot.subscribers
    )
    yield GaugeMetricFamily(
        "taskplane_subscription_lag_events",
        "Events the slowest subscription has yet to scan behind the head.",
        value=snapshot.subscription_lag,
    )
    yield GaugeMetricFamily(
        "taskplane_delivery_round_seconds",
        "Duration of the last delivery round to many subscriptions (0 before the first).",
        value=snapshot.delivery_round_s,
    )
    yield GaugeMetricFamily(
        "taskplane_delivery_gap_ratio",
        "Hold before the next delivery round, as a fraction of the last round's duration.",
        value=snapshot.delivery_gap,
    )
    yield GaugeMetricFamily(
        "taskplane_database_calls_in_flight",
        "Engine transactions waiting for or holding a database connection.",
        value=snapshot.database_calls_in_flight,
    )
    if snapshot.pool is not None:
        checked_out, size = snapshot.pool
        yield GaugeMetricFamily(
            "taskplane_database_pool_checked_out",
            "PostgreSQL connections in use.",
            value=checked_out,
        )
        yield GaugeMetricFamily(
            "taskplane_database_pool_size", "PostgreSQL connections kept open.", value=size
        )
