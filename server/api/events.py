"""EventService: catch-up subscriptions and paged history.

Subscribe sends batches as pre-encoded bytes built from each event's stored
serialization, so fanning one event out to many subscribers never
re-serializes it (see `encode_batch` and `add_to_server`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from server.api.call import current_call
from server.api.validation import Checker, decode_page_token, encode_page_token, query_key
from server.core import protos
from server.core.clock import now_us
from server.core.errors import NotFound
from server.core.model import TaskState
from server.engine.events import EventQueries
from server.engine.runtime import Runtime
from server.events.filters import EventFilter
from server.events.hub import LogEntry
from server.events.subscription import Batch, End, Subscription
from taskplane.event_types import EVENT_TYPES
from taskplane.v1 import events_pb2, events_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
KNOWN_TYPES = frozenset(EVENT_TYPES)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_batch(entries: list[LogEntry]) -> bytes:
    """`SubscribeResponse{batch: EventBatch{events: [...]}}` on the wire:
    field 1 (length-delimited) wrapping repeated field 1 of event bodies."""
    inner = b"".join(b"\x0a" + _varint(len(entry.body)) + entry.body for entry in entries)
    return b"\x0a" + _varint(len(inner)) + inner


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def parse_filter(check: Checker, workspace_id: str, value: events_pb2.EventFilter) -> EventFilter:
    for field in ("task_id", "agent_id", "workflow_id", "correlation_id"):
        check.text(f"filter.{field}", getattr(value, field), max_len=128)
    unknown = sorted(set(value.types) - KNOWN_TYPES)
    if unknown:
        check.add("filter.types", f"unknown event types: {', '.join(unknown)[:200]}")
    return EventFilter(
        workspace_id=workspace_id,
        task_id=value.task_id,
        agent_id=value.agent_id,
        workflow_id=value.workflow_id,
        correlation_id=value.correlation_id,
        types=frozenset(value.types),
    )


class EventServicer(events_pb2_grpc.EventServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._queries = EventQueries(runtime)

    async def Subscribe(  # type: ignore[override]
        self, request: events_pb2.SubscribeRequest, context: Context
    ) -> AsyncIterator[events_pb2.SubscribeResponse | bytes]:
        check = Checker()
        workspace_id = current_call().workspace_id
        event_filter = parse_filter(check, workspace_id, request.filter)
        batch_size = check.page_size(
            "max_batch_size", request.max_batch_size, default=500, cap=1000
        )
        interval_us = check.duration_us(
            "heartbeat_interval",
            request.heartbeat_interval,
            request.HasField("heartbeat_interval"),
            max_s=3600,
        )
        start = request.WhichOneof("start")
        if start == "after_sequence" and request.after_sequence < 0:
            check.add("after_sequence", "must not be negative")
        check.done()
        interval_s = min(max(interval_us / 1e6, 1.0), 60.0) if interval_us else 5.0
        after = 0
        if start == "after_sequence":
            after = request.after_sequence
        elif start == "position" and request.position == events_pb2.START_POSITION_NOW:
            after = self._rt.hub.head
        terminal_before = False
        if event_filter.task_id:
            task_id = event_filter.task_id
            task = await self._rt.read(lambda conn: self._rt.tasks.get(conn, workspace_id, task_id))
            if task is None:
                raise NotFound("task", event_filter.task_id)
            terminal_before = TaskState(task.state).terminal
        subscription = Subscription(
            self._rt.hub,
            self._rt.database,
            self._rt.event_log,
            event_filter,
            after=after,
            batch_size=batch_size,
            heartbeat_interval_s=interval_s,
            encode=encode_batch,
            end_when_caught_up=terminal_before,
        )
        self._rt.hub.attach(subscription)
        try:
            async for item in subscription:
                if isinstance(item, Batch):
                    yield item.payload
                elif isinstance(item, End):
                    yield events_pb2.SubscribeResponse(
                        end_of_stream=events_pb2.EndOfStream(
                            reason=item.reason, last_sequence=item.last_sequence
                        )
                    )
                else:
                    yield events_pb2.SubscribeResponse(
                        heartbeat=events_pb2.StreamHeartbeat(
                            head_sequence=item.head_sequence, time=protos.timestamp(now_us())
                        )
                    )
        finally:
            self._rt.hub.detach(subscription)

    async def ListEvents(
        self, request: events_pb2.ListEventsRequest, context: Context
    ) -> events_pb2.ListEventsResponse:
        check = Checker()
        workspace_id = current_call().workspace_id
        event_filter = parse_filter(check, workspace_id, request.filter)
        limit = check.page_size("page_size", request.page_size, default=100, cap=1000)
        if request.after_sequence < 0:
            check.add("after_sequence", "must not be negative")
        check.done()
        key = query_key(
            sorted(event_filter.types),
            event_filter.task_id,
            event_filter.agent_id,
            event_filter.workflow_id,
            event_filter.correlation_id,
        )
        position = decode_page_token(request.page_token, workspace_id, key)
        cursor = int(position[0]) if position else request.after_sequence
        found, cursor, head = await self._queries.page(event_filter, cursor, limit)
        token = encode_page_token(workspace_id, key, (cursor,)) if cursor < head else ""
        return events_pb2.ListEventsResponse(
            events=found, next_page_token=token, head_sequence=head
        )


def add_to_server(servicer: EventServicer, server: grpc.aio.Server) -> None:
    """Like the generated adder, but Subscribe's serializer passes bytes through."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Subscribe": grpc.unary_stream_rpc_method_handler(
            servicer.Subscribe,
            request_deserializer=events_pb2.SubscribeRequest.FromString,
            response_serializer=_serialize,
        ),
        "ListEvents": grpc.unary_unary_rpc_method_handler(
            servicer.ListEvents,
            request_deserializer=events_pb2.ListEventsRequest.FromString,
            response_serializer=events_pb2.ListEventsResponse.SerializeToString,
        ),
    }
    generic = grpc.method_handlers_generic_handler("taskplane.v1.EventService", handlers)
    server.add_generic_rpc_handlers((generic,))
