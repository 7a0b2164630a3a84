"""EventService.Subscribe and ListEvents: catch-up, live tail, filters,
heartbeats and end-of-stream."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from taskplane.v1 import agents_pb2, events_pb2, tasks_pb2
from tests.support.client import Api, acquire, create, ref, register, seconds
from tests.support.events import collect


def unique_kind() -> str:
    return f"sub-{uuid.uuid4().hex[:10]}"


async def head(api: Api) -> int:
    response = await api.events.ListEvents(events_pb2.ListEventsRequest(page_size=1))
    return response.head_sequence


async def test_replay_then_live_without_gap_or_duplicate(api: Api) -> None:
    kind = unique_kind()
    start = await head(api)
    before = [await create(api, kind) for _ in range(30)]
    request = events_pb2.SubscribeRequest(after_sequence=start, max_batch_size=7)
    reader = asyncio.ensure_future(collect(api, request, until=60))
    await asyncio.sleep(0.1)
    after = [await create(api, kind) for _ in range(30)]
    events, _ = await reader
    created = [e for e in events if e.type == "task.created" and e.task_created.task.kind == kind]
    assert [e.task_id for e in created] == [t.id for t in before + after]
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences))
    assert sequences[0] == start + 1


async def test_concurrent_writers_produce_a_gap_free_log(api: Api) -> None:
    kind = unique_kind()
    start = await head(api)
    await asyncio.gather(*(create(api, kind) for _ in range(50)))
    response = await api.events.ListEvents(
        events_pb2.ListEventsRequest(after_sequence=start, page_size=1000)
    )
    sequences = [e.sequence for e in response.events]
    assert sequences == list(range(start + 1, start + 1 + len(sequences)))
    assert len([e for e in response.events if e.task_created.task.kind == kind]) == 50


async def test_task_subscription_filters_and_ends_when_terminal(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    task = await create(api, kind)
    await create(api, kind)  # another task's events must not appear
    request = events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(task_id=task.id))
    reader = asyncio.ensure_future(collect(api, request))
    leases = await acquire(api, agent, max_tasks=2)
    mine = next(lease for lease in leases if lease.task.id == task.id)
    await api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref(mine)))
    events, control = await reader
    assert {e.task_id for e in events} == {task.id}
    assert events[-1].type == "task.completed"
    assert control[-1].end_of_stream.reason == "task_terminal"
    assert control[-1].end_of_stream.last_sequence >= events[-1].sequence


async def test_subscription_to_a_finished_task_replays_and_ends(api: Api) -> None:
    task = await create(api, unique_kind())
    await api.tasks.CancelTask(tasks_pb2.CancelTaskRequest(task_id=task.id))
    request = events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(task_id=task.id))
    events, control = await collect(api, request, timeout=5)
    assert [e.type for e in events] == ["task.created", "task.cancelled"]
    assert control and control[-1].HasField("end_of_stream")


async def test_type_filter_applies_to_replay_and_live(api: Api) -> None:
    kind = unique_kind()
    start = await head(api)
    first = await create(api, kind)
    await api.tasks.CancelTask(tasks_pb2.CancelTaskRequest(task_id=first.id))
    request = events_pb2.SubscribeRequest(
        after_sequence=start, filter=events_pb2.EventFilter(types=["task.cancelled"])
    )
    reader = asyncio.ensure_future(collect(api, request, until=2))
    second = await create(api, kind)
    await api.tasks.CancelTask(tasks_pb2.CancelTaskRequest(task_id=second.id))
    events, _ = await reader
    assert [e.type for e in events] == ["task.cancelled", "task.cancelled"]
    assert [e.task_id for e in events] == [first.id, second.id]


async def test_correlation_filter(api: Api) -> None:
    kind = unique_kind()
    start = await head(api)
    correlation = "corr-" + uuid.uuid4().hex
    response = await api.tasks.CreateTask(
        tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind=kind)),
        metadata=(("x-correlation-id", correlation),),
    )
    await create(api, kind)
    assert response.task.correlation_id == correlation
    request = events_pb2.SubscribeRequest(
        after_sequence=start, filter=events_pb2.EventFilter(correlation_id=correlation)
    )
    events, _ = await collect(api, request, until=1, timeout=3)
    assert [e.task_id for e in events] == [response.task.id]


async def test_start_now_skips_history_and_heartbeats_carry_the_head(api: Api) -> None:
    await create(api, unique_kind())
    current = await head(api)
    request = events_pb2.SubscribeRequest(
        position=events_pb2.START_POSITION_NOW, heartbeat_interval=seconds(1)
    )
    events, control = await collect(api, request, timeout=2.5)
    assert all(e.sequence > current for e in events)
    beats = [c.heartbeat for c in control if c.HasField("heartbeat")]
    assert beats and beats[0].head_sequence >= current


async def test_list_events_pages_through_history(api: Api) -> None:
    kind = unique_kind()
    start = await head(api)
    for _ in range(5):
        await create(api, kind)
    seen: list[int] = []
    request = events_pb2.ListEventsRequest(after_sequence=start, page_size=2)
    while True:
        page = await api.events.ListEvents(request)
        seen += [e.sequence for e in page.events]
        if not page.next_page_token:
            break
        request = events_pb2.ListEventsRequest(
            after_sequence=start, page_size=2, page_token=page.next_page_token
        )
    assert seen[:5] == list(range(start + 1, start + 6))


async def test_unknown_event_type_is_invalid_argument(api: Api) -> None:
    request = events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(types=["task.exploded"]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in api.events.Subscribe(request):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_subscription_to_a_missing_task_is_not_found(api: Api) -> None:
    request = events_pb2.SubscribeRequest(
        filter=events_pb2.EventFilter(task_id="tsk_00000000000000000000000000")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in api.events.Subscribe(request):
            pass
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_many_subscribers_see_the_same_events(api: Api) -> None:
    kind = unique_kind()
    start = await head(api)
    request = events_pb2.SubscribeRequest(after_sequence=start)
    readers = [asyncio.ensure_future(collect(api, request, until=20)) for _ in range(50)]
    await asyncio.sleep(0.2)
    for _ in range(20):
        await create(api, kind)
    results = await asyncio.gather(*readers)
    expected = [e.sequence for e in results[0][0]][:20]
    assert len(expected) == 20
    for events, _ in results:
        assert [e.sequence for e in events][:20] == expected
