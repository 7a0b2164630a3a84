"""The task lifecycle over the real worker protocol, on every backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

import grpc
import pytest
from google.protobuf import struct_pb2

from taskplane.v1 import agents_pb2, events_pb2, tasks_pb2
from tests.support.client import Api, acquire, create, details_of, ref, register, seconds


def unique_kind() -> str:
    return f"kind-{uuid.uuid4().hex[:10]}"


async def events_of(api: Api, task_id: str) -> list[events_pb2.Event]:
    response = await api.events.ListEvents(
        events_pb2.ListEventsRequest(filter=events_pb2.EventFilter(task_id=task_id))
    )
    return list(response.events)


async def test_full_lifecycle_emits_events_in_order(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    task = await create(
        api, kind, input=struct_pb2.Struct(fields={"q": struct_pb2.Value(string_value="hi")})
    )
    assert task.state == tasks_pb2.TASK_STATE_QUEUED
    [lease] = await acquire(api, agent)
    assert lease.task.id == task.id and lease.attempt == 1
    assert lease.task.input["q"] == "hi"
    await api.agents.ReportEvents(
        agents_pb2.ReportEventsRequest(
            lease=ref(lease),
            reports=[
                agents_pb2.AgentReport(thinking=agents_pb2.AgentThinking(content="pondering")),
                agents_pb2.AgentReport(action=agents_pb2.AgentAction(name="search")),
                agents_pb2.AgentReport(message=agents_pb2.AgentMessage(content="done")),
            ],
        )
    )
    result = struct_pb2.Struct(fields={"answer": struct_pb2.Value(number_value=42)})
    done = await api.agents.CompleteTask(
        agents_pb2.CompleteTaskRequest(lease=ref(lease), result=result)
    )
    assert done.task.state == tasks_pb2.TASK_STATE_SUCCEEDED
    assert done.task.result["answer"] == 42
    events = await events_of(api, task.id)
    assert [e.type for e in events] == [
        "task.created",
        "task.started",
        "execution.started",
        "agent.thinking",
        "agent.action",
        "agent.message",
        "execution.completed",
        "task.completed",
    ]
    sequences = [e.sequence for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert all(e.correlation_id == task.correlation_id for e in events)
    assert all(e.schema_version == 1 for e in events)
    assert events[3].agent_id == agent and events[3].execution_id == lease.execution_id
    assert events[-2].execution_completed.outcome == events_pb2.EXECUTION_OUTCOME_SUCCEEDED


async def test_create_is_idempotent_by_request_id(api: Api) -> None:
    kind = unique_kind()
    request = tasks_pb2.CreateTaskRequest(
        task=tasks_pb2.Task(kind=kind), request_id="req-1-" + kind
    )
    first = await api.tasks.CreateTask(request)
    second = await api.tasks.CreateTask(request)
    assert not first.deduplicated and second.deduplicated
    assert first.task.id == second.task.id
    listed = await api.tasks.ListTasks(tasks_pb2.ListTasksRequest(kinds=[kind]))
    assert [t.id for t in listed.tasks] == [first.task.id]


async def test_concurrent_creates_with_one_request_id_make_one_task(api: Api) -> None:
    kind = unique_kind()
    request = tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind=kind), request_id="same")
    responses = await asyncio.gather(*(api.tasks.CreateTask(request) for _ in range(10)))
    assert len({r.task.id for r in responses}) == 1
    assert sum(not r.deduplicated for r in responses) == 1


async def test_cancel_queued_task_is_immediate(api: Api) -> None:
    task = await create(api, unique_kind())
    response = await api.tasks.CancelTask(
        tasks_pb2.CancelTaskRequest(task_id=task.id, reason="no longer needed")
    )
    assert response.task.state == tasks_pb2.TASK_STATE_CANCELLED
    assert response.task.cancel_reason == "no longer needed"
    again = await api.tasks.CancelTask(tasks_pb2.CancelTaskRequest(task_id=task.id))
    assert again.task.state == tasks_pb2.TASK_STATE_CANCELLED
    assert [e.type for e in await events_of(api, task.id)] == ["task.created", "task.cancelled"]


async def test_cancel_running_task_reaches_agent_through_heartbeat(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    task = await create(api, kind)
    [lease] = await acquire(api, agent)
    beat = await api.agents.Heartbeat(
        agents_pb2.HeartbeatRequest(agent_id=agent, leases=[ref(lease)])
    )
    assert beat.leases[0].status == agents_pb2.LEASE_STATUS_ACTIVE
    cancelled = await api.tasks.CancelTask(tasks_pb2.CancelTaskRequest(task_id=task.id))
    assert cancelled.task.state == tasks_pb2.TASK_STATE_CANCEL_REQUESTED
    beat = await api.agents.Heartbeat(
        agents_pb2.HeartbeatRequest(agent_id=agent, leases=[ref(lease)])
    )
    assert beat.leases[0].status == agents_pb2.LEASE_STATUS_CANCEL_REQUESTED
    confirmed = await api.agents.FailTask(
        agents_pb2.FailTaskRequest(
            lease=ref(lease), error=tasks_pb2.TaskError(code="cancelled", message="stopped")
        )
    )
    assert confirmed.task.state == tasks_pb2.TASK_STATE_CANCELLED
    types = [e.type for e in await events_of(api, task.id)]
    assert types[-3:] == ["task.cancel_requested", "execution.completed", "task.cancelled"]


async def test_retryable_failure_backs_off_then_retries(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    policy = tasks_pb2.RetryPolicy(max_attempts=3, initial_backoff=seconds(0.3))
    task = await create(api, kind, retry_policy=policy)
    [lease] = await acquire(api, agent)
    failed = await api.agents.FailTask(
        agents_pb2.FailTaskRequest(
            lease=ref(lease), error=tasks_pb2.TaskError(code="flaky", retryable=True)
        )
    )
    assert failed.task.state == tasks_pb2.TASK_STATE_QUEUED
    backoff = failed.task.available_time.ToMicroseconds() - failed.task.update_time.ToMicroseconds()
    assert backoff == 300_000
    assert await acquire(api, agent, wait=0) == []  # still backing off
    [second] = await acquire(api, agent, wait=3)
    assert second.task.id == task.id and second.attempt == 2
    assert second.lease_id != lease.lease_id
    events = await events_of(api, task.id)
    retrying = [e for e in events if e.type == "task.retrying"]
    assert retrying[0].task_retrying.error.code == "flaky"
    [occurred] = [e for e in events if e.type == "error.occurred"]
    assert occurred.error_occurred.source == "agent"
    assert occurred.error_occurred.error.code == "flaky"


async def test_non_retryable_failure_fails_the_task(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    task = await create(api, kind)
    [lease] = await acquire(api, agent)
    failed = await api.agents.FailTask(
        agents_pb2.FailTaskRequest(
            lease=ref(lease),
            error=tasks_pb2.TaskError(code="bad_input", message="cannot parse", retryable=False),
        )
    )
    assert failed.task.state == tasks_pb2.TASK_STATE_FAILED
    assert failed.task.error.code == "bad_input"
    assert (await events_of(api, task.id))[-1].type == "task.failed"


async def test_exhausted_attempts_dead_letter_and_requeue_runs_again(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    policy = tasks_pb2.RetryPolicy(max_attempts=2, initial_backoff=seconds(0.05))
    task = await create(api, kind, retry_policy=policy)
    for _ in range(2):
        [lease] = await acquire(api, agent, wait=3)
        last = await api.agents.FailTask(
            agents_pb2.FailTaskRequest(
                lease=ref(lease), error=tasks_pb2.TaskError(code="boom", retryable=True)
            )
        )
    assert last.task.state == tasks_pb2.TASK_STATE_DEAD_LETTERED
    assert await acquire(api, agent, wait=0.3) == []
    requeued = await api.tasks.RequeueTask(
        tasks_pb2.RequeueTaskRequest(task_id=task.id, extra_attempts=1)
    )
    assert requeued.task.state == tasks_pb2.TASK_STATE_QUEUED
    [lease] = await acquire(api, agent, wait=3)
    assert lease.attempt == 3
    types = [e.type for e in await events_of(api, task.id)]
    assert "task.dead_lettered" in types and types[-3:] == [
        "task.requeued",
        "task.started",
        "execution.started",
    ]


async def test_requeue_of_a_task_that_is_not_dead_lettered_is_failed_precondition(api: Api) -> None:
    task = await create(api, unique_kind())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.tasks.RequeueTask(tasks_pb2.RequeueTaskRequest(task_id=task.id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_expired_lease_is_redelivered_to_another_agent(api: Api) -> None:
    kind = unique_kind()
    first = await register(api, kind, name="first")
    second = await register(api, kind, name="second")
    timeouts = tasks_pb2.TaskTimeouts(heartbeat=seconds(0.3))
    policy = tasks_pb2.RetryPolicy(initial_backoff=seconds(0.01))
    task = await create(api, kind, timeouts=timeouts, retry_policy=policy)
    [lost] = await acquire(api, first)
    [lease] = await acquire(api, second, wait=5)
    assert lease.task.id == task.id and lease.attempt == 2
    # The first agent's lease is stale: every call under it is ABORTED.
    beat = await api.agents.Heartbeat(
        agents_pb2.HeartbeatRequest(agent_id=first, leases=[ref(lost)])
    )
    assert beat.leases[0].status == agents_pb2.LEASE_STATUS_LOST
    completion = await api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref(lease)))
    assert completion.task.state == tasks_pb2.TASK_STATE_SUCCEEDED
    events = await events_of(api, task.id)
    expired = next(e for e in events if e.type == "execution.completed")
    assert expired.execution_completed.outcome == events_pb2.EXECUTION_OUTCOME_LEASE_EXPIRED
    assert expired.agent_id == first


async def test_stale_lease_calls_are_aborted_and_change_nothing(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    timeouts = tasks_pb2.TaskTimeouts(heartbeat=seconds(0.2))
    policy = tasks_pb2.RetryPolicy(initial_backoff=seconds(0.01))
    task = await create(api, kind, timeouts=timeouts, retry_policy=policy)
    [stale] = await acquire(api, agent)
    [current] = await acquire(api, agent, wait=5)
    assert current.attempt == 2
    before = await api.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id=task.id))
    history = await events_of(api, task.id)
    calls: list[Awaitable[object]] = [
        api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref(stale))),
        api.agents.FailTask(
            agents_pb2.FailTaskRequest(lease=ref(stale), error=tasks_pb2.TaskError(code="x"))
        ),
        api.agents.ReportEvents(
            agents_pb2.ReportEventsRequest(
                lease=ref(stale),
                reports=[agents_pb2.AgentReport(message=agents_pb2.AgentMessage(content="late"))],
            )
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.ABORTED
        reasons = [d.reason for d in details_of(caught.value) if hasattr(d, "reason")]
        assert reasons == ["LEASE_STALE"]
    after = await api.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id=task.id))
    assert after.task.etag == before.task.etag
    assert after.task.state == tasks_pb2.TASK_STATE_RUNNING
    assert await events_of(api, task.id) == history


async def test_wait_task_returns_when_the_task_finishes(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    task = await create(api, kind)
    waiter = asyncio.ensure_future(
        api.tasks.WaitTask(tasks_pb2.WaitTaskRequest(task_id=task.id, timeout=seconds(10)))
    )
    [lease] = await acquire(api, agent)
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref(lease)))
    response = await asyncio.wait_for(waiter, 5)
    assert response.done and response.task.state == tasks_pb2.TASK_STATE_SUCCEEDED


async def test_wait_task_times_out_with_the_current_state(api: Api) -> None:
    task = await create(api, unique_kind())
    response = await api.tasks.WaitTask(
        tasks_pb2.WaitTaskRequest(task_id=task.id, timeout=seconds(0.2))
    )
    assert not response.done and response.task.state == tasks_pb2.TASK_STATE_QUEUED


async def test_acquire_prefers_priority_then_age(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind, concurrency=10)
    low = await create(api, kind, priority=0)
    high = await create(api, kind, priority=5)
    older = await create(api, kind, priority=1)
    newer = await create(api, kind, priority=1)
    leases = await acquire(api, agent, max_tasks=4)
    assert [lease.task.id for lease in leases] == [high.id, older.id, newer.id, low.id]


async def test_acquire_over_several_kinds_keeps_priority_then_age(api: Api) -> None:
    first_kind, second_kind = unique_kind(), unique_kind()
    agent = await register(api, first_kind, second_kind, concurrency=10)
    a_low = await create(api, first_kind, priority=0)
    b_high = await create(api, second_kind, priority=5)
    a_mid = await create(api, first_kind, priority=2)
    b_mid = await create(api, second_kind, priority=2)
    b_low = await create(api, second_kind, priority=0)
    leases = await acquire(api, agent, max_tasks=3)
    assert [lease.task.id for lease in leases] == [b_high.id, a_mid.id, b_mid.id]
    rest = await acquire(api, agent, max_tasks=3)
    assert [lease.task.id for lease in rest] == [a_low.id, b_low.id]


async def test_acquire_respects_the_agent_concurrency(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind, concurrency=2)
    for _ in range(3):
        await create(api, kind)
    assert len(await acquire(api, agent, max_tasks=5)) == 2
    assert await acquire(api, agent, max_tasks=5, wait=0) == []


async def test_long_poll_acquire_wakes_on_a_new_task(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    poll = asyncio.ensure_future(acquire(api, agent, wait=10))
    await asyncio.sleep(0.2)
    task = await create(api, kind)
    leases = await asyncio.wait_for(poll, 5)
    assert [lease.task.id for lease in leases] == [task.id]


async def test_list_tasks_filters_and_pages(api: Api) -> None:
    kind = unique_kind()
    created = [await create(api, kind, labels={"team": "a" if i % 2 else "b"}) for i in range(5)]
    page = await api.tasks.ListTasks(tasks_pb2.ListTasksRequest(kinds=[kind], page_size=2))
    ids = [t.id for t in page.tasks]
    while page.next_page_token:
        page = await api.tasks.ListTasks(
            tasks_pb2.ListTasksRequest(kinds=[kind], page_size=2, page_token=page.next_page_token)
        )
        ids += [t.id for t in page.tasks]
    assert ids == [t.id for t in reversed(created)]
    labelled = await api.tasks.ListTasks(
        tasks_pb2.ListTasksRequest(kinds=[kind], labels={"team": "a"})
    )
    assert {t.id for t in labelled.tasks} == {created[1].id, created[3].id}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.tasks.ListTasks(
            tasks_pb2.ListTasksRequest(kinds=["other"], page_token=page.next_page_token or "bogus")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_run_timeout_ends_the_attempt(api: Api) -> None:
    kind = unique_kind()
    agent = await register(api, kind)
    timeouts = tasks_pb2.TaskTimeouts(run=seconds(0.3), heartbeat=seconds(10))
    policy = tasks_pb2.RetryPolicy(max_attempts=1)
    task = await create(api, kind, timeouts=timeouts, retry_policy=policy)
    [lease] = await acquire(api, agent)
    for _ in range(20):
        await api.agents.Heartbeat(agents_pb2.HeartbeatRequest(agent_id=agent, leases=[ref(lease)]))
        await asyncio.sleep(0.05)
    final = await api.tasks.WaitTask(tasks_pb2.WaitTaskRequest(task_id=task.id, timeout=seconds(3)))
    assert final.task.state == tasks_pb2.TASK_STATE_DEAD_LETTERED
    assert final.task.error.code == "run_timeout"


async def test_schedule_to_start_timeout_fails_a_waiting_task(api: Api) -> None:
    timeouts = tasks_pb2.TaskTimeouts(schedule_to_start=seconds(0.2))
    task = await create(api, unique_kind(), timeouts=timeouts)
    final = await api.tasks.WaitTask(tasks_pb2.WaitTaskRequest(task_id=task.id, timeout=seconds(3)))
    assert final.task.state == tasks_pb2.TASK_STATE_FAILED
    assert final.task.error.code == "schedule_to_start_timeout"
