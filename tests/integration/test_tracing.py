"""OpenTelemetry: one server span per RPC, child of the caller's span, with
its trace id in the call's log lines and on the events the call causes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import taskplane
from server.app import TaskplaneServer
from server.config import Settings
from server.observability.logging import merge_call_fields
from server.observability.tracing import tracer_provider
from taskplane.v1 import events_pb2, events_pb2_grpc, tasks_pb2, tasks_pb2_grpc
from tests.conftest import server_settings
from tests.support.client import Api
from tests.support.servers import admin_key

CREATE = "/taskplane.v1.TaskService/CreateTask"
GET = "/taskplane.v1.TaskService/GetTask"
SUBSCRIBE = "/taskplane.v1.EventService/Subscribe"


@dataclasses.dataclass
class Traced:
    exporter: InMemorySpanExporter
    channel: grpc.aio.Channel
    tasks: tasks_pb2_grpc.TaskServiceAsyncStub
    events: events_pb2_grpc.EventServiceAsyncStub


@pytest.fixture(scope="module")
async def traced(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Traced]:
    """A server and a client channel that both record spans in one exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    data_dir = tmp_path_factory.mktemp("data-traced")
    server = TaskplaneServer(server_settings(data_dir), tracer_provider=provider)
    await server.start()
    # The SDK's client: its channel carries the client spans and traceparent.
    client = await taskplane.connect(
        server.address, api_key=admin_key(data_dir), tracer_provider=provider
    )
    channel = client.channel
    try:
        yield Traced(
            exporter,
            channel,
            tasks_pb2_grpc.TaskServiceStub(channel),
            events_pb2_grpc.EventServiceStub(channel),
        )
    finally:
        await client.close()
        await server.stop()
        provider.shutdown()


async def client_and_server_span(
    exporter: InMemorySpanExporter, method: str, after: int = 0
) -> tuple[ReadableSpan, ReadableSpan]:
    """The (only) client and server spans of `method` finished after the
    first `after` spans; the client's ends in a callback just after the call."""
    for _ in range(500):
        spans = exporter.get_finished_spans()[after:]
        found = {span.kind: span for span in spans if span.name == method}
        if SpanKind.CLIENT in found and SpanKind.SERVER in found:
            assert len([span for span in spans if span.name == method]) == 2
            return found[SpanKind.CLIENT], found[SpanKind.SERVER]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no client and server span of {method}")


def assert_child(server: ReadableSpan, client: ReadableSpan) -> None:
    assert server.context is not None and client.context is not None
    assert server.parent is not None and server.parent.is_remote
    assert server.context.trace_id == client.context.trace_id
    assert server.parent.span_id == client.context.span_id


def traceparent_of(span: ReadableSpan) -> str:
    assert span.context is not None
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def access_line(logs: Sequence[structlog.typing.EventDict], method: str) -> dict[str, object]:
    lines = [line for line in logs if line["event"] == "rpc.access" and line["rpc"] == method]
    assert len(lines) == 1
    return dict(lines[0])


async def test_unary_call_is_a_child_span_stamped_on_logs_and_events(traced: Traced) -> None:
    before = len(traced.exporter.get_finished_spans())
    with structlog.testing.capture_logs(processors=[merge_call_fields]) as logs:
        response = await traced.tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="traced"))
        )
    client, server = await client_and_server_span(traced.exporter, CREATE, before)

    assert_child(server, client)
    assert server.attributes is not None
    assert server.attributes["rpc.service"] == "taskplane.v1.TaskService"
    assert server.attributes["rpc.method"] == "CreateTask"
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    assert server.status.status_code == StatusCode.UNSET
    assert server.context is not None
    assert access_line(logs, CREATE)["trace_id"] == f"{server.context.trace_id:032x}"
    listed = await traced.events.ListEvents(
        events_pb2.ListEventsRequest(filter=events_pb2.EventFilter(task_id=response.task.id))
    )
    assert [event.type for event in listed.events] == ["task.created"]
    assert listed.events[0].traceparent == traceparent_of(server)


async def test_failed_call_span_carries_its_status_code(traced: Traced) -> None:
    before = len(traced.exporter.get_finished_spans())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await traced.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id="tsk_missing"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    client, server = await client_and_server_span(traced.exporter, GET, before)

    assert_child(server, client)
    assert server.attributes is not None
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    # OpenTelemetry's semantic conventions: a caller's mistake is no server error.
    assert server.status.status_code == StatusCode.UNSET
    assert client.attributes is not None
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert client.status.status_code == StatusCode.ERROR


async def test_stream_is_a_child_span_ending_with_the_stream(traced: Traced) -> None:
    created = await traced.tasks.CreateTask(
        tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="traced"))
    )
    await traced.tasks.CancelTask(tasks_pb2.CancelTaskRequest(task_id=created.task.id))
    before = len(traced.exporter.get_finished_spans())
    request = events_pb2.SubscribeRequest(
        filter=events_pb2.EventFilter(task_id=created.task.id),
        position=events_pb2.START_POSITION_BEGINNING,
    )
    responses = [response async for response in traced.events.Subscribe(request)]
    client, server = await client_and_server_span(traced.exporter, SUBSCRIBE, before)

    assert responses[-1].HasField("end_of_stream")
    assert_child(server, client)
    assert server.attributes is not None
    assert server.attributes["rpc.method"] == "Subscribe"
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]


async def test_health_checks_get_no_server_span(traced: Traced) -> None:
    health = health_pb2_grpc.HealthStub(traced.channel)
    before = len(traced.exporter.get_finished_spans())
    await health.Check(health_pb2.HealthCheckRequest(service="readiness"))
    await traced.tasks.CreateTask(tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="traced")))
    await client_and_server_span(traced.exporter, CREATE, before)

    spans = traced.exporter.get_finished_spans()[before:]
    checks = [span.kind for span in spans if span.name == "/grpc.health.v1.Health/Check"]
    assert checks == [SpanKind.CLIENT]


@pytest.mark.parametrize("mode", ["otlp", "console"])
def test_settings_configure_a_provider_named_taskplane(tmp_path: Path, mode: str) -> None:
    provider = tracer_provider(Settings(data_dir=tmp_path, tracing=mode))
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "taskplane"
    provider.shutdown()
    assert tracer_provider(Settings(data_dir=tmp_path)) is None


@pytest.mark.parametrize(
    ("sent", "stamped"),
    [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",) * 2,
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", ""),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" + "x" * 200, ""),
    ],
)
async def test_untraced_server_passes_on_a_well_formed_caller_trace(
    api: Api, sent: str, stamped: str
) -> None:
    """Without tracing, the caller's trace context still reaches the events;
    a malformed one is dropped."""
    response = await api.tasks.CreateTask(
        tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="traced")),
        metadata=(("traceparent", sent),),
    )
    listed = await api.events.ListEvents(
        events_pb2.ListEventsRequest(filter=events_pb2.EventFilter(task_id=response.task.id))
    )
    assert [event.traceparent for event in listed.events] == [stamped]
