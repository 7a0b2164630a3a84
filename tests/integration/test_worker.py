"""The worker runtime against a real server: leases, heartbeats, reports,
cancellation, drain and failures, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import taskplane
from taskplane import TaskContext, TaskFailure, Worker
from taskplane.agent.commands import CommandTool
from taskplane.agent.files import FileTool, SandboxViolation
from taskplane.v1 import agents_pb2, tasks_pb2


def unique_kind(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def serving(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    run = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        yield run
    finally:
        worker.stop()
        await asyncio.wait_for(run, 30)


async def wait_state(
    client: taskplane.Client, task_id: str, state: tasks_pb2.TaskState.ValueType
) -> tasks_pb2.Task:
    for _ in range(300):
        task = await client.get_task(task_id)
        if task.state == state:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task stayed {tasks_pb2.TaskState.Name(task.state)}")


async def test_handler_reports_and_completes_with_events_in_order(
    client: taskplane.Client,
) -> None:
    kind = unique_kind("report")
    worker = Worker(client, "reporter", concurrency=2, poll_wait_s=1)

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> Mapping[str, Any]:
        await ctx.thinking("looking at the input")
        await ctx.action("calc.add", arguments={"a": 1, "b": 2}, output={"sum": 3}, duration_s=0.01)
        await ctx.message(f"the sum is {ctx.input['a'] + ctx.input['b']}")
        return {"sum": ctx.input["a"] + ctx.input["b"], "attempt": ctx.attempt}

    async with serving(worker):
        created = await client.create_task(kind, {"a": 1, "b": 2})
        done = await client.wait_task(created.task.id, timeout_s=20)
    assert done.done
    assert done.task.state == tasks_pb2.TASK_STATE_SUCCEEDED
    assert dict(done.task.result) == {"sum": 3.0, "attempt": 1.0}
    events = await client.list_events(task_id=created.task.id)
    assert [e.type for e in events.events] == [
        "task.created",
        "task.started",
        "execution.started",
        "agent.thinking",
        "agent.action",
        "agent.message",
        "execution.completed",
        "task.completed",
    ]
    action = events.events[4].agent_action
    assert action.name == "calc.add"
    assert action.status == agents_pb2.ACTION_STATUS_SUCCEEDED
    assert dict(action.output) == {"sum": 3.0}
    # Events the handler caused carry the task's correlation id.
    assert {e.correlation_id for e in events.events} == {created.task.correlation_id}
    assert worker.completed == 1


async def test_heartbeats_keep_a_long_handler_leased(client: taskplane.Client) -> None:
    kind = unique_kind("long")
    worker = Worker(client, "slow", poll_wait_s=1)

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> Mapping[str, Any]:
        await asyncio.sleep(2.5)
        return {"attempt": ctx.attempt}

    async with serving(worker):
        created = await client.create_task(kind, heartbeat_timeout_s=1.0, max_attempts=1)
        done = await client.wait_task(created.task.id, timeout_s=20)
    # Without heartbeats the lease would have lapsed after a second and the
    # only attempt would have been lost.
    assert done.task.state == tasks_pb2.TASK_STATE_SUCCEEDED
    assert done.task.attempt == 1


async def test_cancel_request_cancels_the_handler_coroutine(client: taskplane.Client) -> None:
    kind = unique_kind("cancel")
    worker = Worker(client, "cancellable", poll_wait_s=1, heartbeat_interval_s=0.2)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with serving(worker):
        created = await client.create_task(kind)
        await asyncio.wait_for(started.wait(), 20)
        await client.cancel_task(created.task.id, reason="not needed")
        await asyncio.wait_for(cancelled.wait(), 20)
        task = await wait_state(client, created.task.id, tasks_pb2.TASK_STATE_CANCELLED)
    assert task.cancel_reason == "not needed"


async def test_retryable_failure_is_retried_and_fatal_failure_is_not(
    client: taskplane.Client,
) -> None:
    kind = unique_kind("flaky")
    worker = Worker(client, "flaky", poll_wait_s=1)
    attempts: dict[str, list[int]] = {}

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> Mapping[str, Any]:
        attempts.setdefault(ctx.input["mode"], []).append(ctx.attempt)
        if ctx.input["mode"] == "fatal":
            raise TaskFailure("bad input", code="bad_input", details={"field": "x"})
        if ctx.input["mode"] == "bug" and ctx.attempt == 1:
            raise KeyError("missing")
        if ctx.attempt == 1:
            raise TaskFailure("try again", retryable=True, code="flaky")
        return {"ok": True}

    async with serving(worker):
        flaky = await client.create_task(kind, {"mode": "flaky"}, initial_backoff_s=0.05)
        bug = await client.create_task(kind, {"mode": "bug"}, initial_backoff_s=0.05)
        fatal = await client.create_task(kind, {"mode": "fatal"}, initial_backoff_s=0.05)
        results = [
            (await client.wait_task(t.task.id, timeout_s=20)).task for t in (flaky, bug, fatal)
        ]
    assert [t.state for t in results] == [
        tasks_pb2.TASK_STATE_SUCCEEDED,
        tasks_pb2.TASK_STATE_SUCCEEDED,
        tasks_pb2.TASK_STATE_FAILED,
    ]
    assert attempts == {"flaky": [1, 2], "bug": [1, 2], "fatal": [1]}
    assert results[2].error.code == "bad_input"
    assert not results[2].error.retryable
    assert dict(results[2].error.details) == {"field": "x"}
    events = await client.list_events(task_id=bug.task.id, types=["task.retrying"])
    assert len(events.events) == 1
    assert events.events[0].task_retrying.error.code == "handler_error"
    assert "KeyError" in events.events[0].task_retrying.error.message


async def test_drain_lets_running_handlers_finish(client: taskplane.Client) -> None:
    kind = unique_kind("drain")
    worker = Worker(client, "draining", poll_wait_s=5, drain_timeout_s=20)
    started = asyncio.Event()
    release = asyncio.Event()

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> Mapping[str, Any]:
        started.set()
        await release.wait()
        return {"drained": True}

    run = asyncio.create_task(worker.run(install_signal_handlers=False))
    created = await client.create_task(kind)
    await asyncio.wait_for(started.wait(), 20)
    worker.stop()
    await asyncio.sleep(0.3)
    assert not run.done()  # still draining: the handler is running
    release.set()
    await asyncio.wait_for(run, 20)
    task = await client.get_task(created.task.id)
    assert task.state == tasks_pb2.TASK_STATE_SUCCEEDED
    assert dict(task.result) == {"drained": True}


async def test_sigterm_drains_and_hands_unfinished_tasks_back(client: taskplane.Client) -> None:
    kind = unique_kind("sigterm")
    worker = Worker(client, "terminated", poll_wait_s=5, drain_timeout_s=0.5)
    started = asyncio.Event()

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> None:
        started.set()
        await asyncio.sleep(60)

    run = asyncio.create_task(worker.run())
    created = await client.create_task(kind, initial_backoff_s=0.05)
    await asyncio.wait_for(started.wait(), 20)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run, 20)
    # The handler outlived the drain timeout: its task is failed as retryable
    # and queued again for another agent, not left leased until it expires.
    task = await wait_state(client, created.task.id, tasks_pb2.TASK_STATE_QUEUED)
    assert task.attempt == 1
    retrying = await client.list_events(task_id=created.task.id, types=["task.retrying"])
    assert retrying.events[0].task_retrying.error.code == "worker_shutdown"


async def test_worker_refuses_capabilities_without_handlers(client: taskplane.Client) -> None:
    worker = Worker(client, "confused", capabilities=["a", "b"])
    worker.register("a", lambda ctx: asyncio.sleep(0, None))
    with pytest.raises(ValueError, match="no handler"):
        await worker.run(install_signal_handlers=False)
    with pytest.raises(ValueError, match="already registered"):
        worker.register("a", lambda ctx: asyncio.sleep(0, None))


async def test_sandboxed_tools_report_each_call_as_an_agent_action(
    client: taskplane.Client, tmp_path: Path
) -> None:
    kind = unique_kind("tools")
    worker = Worker(client, "tool-user", poll_wait_s=1)

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> Mapping[str, Any]:
        files = FileTool(tmp_path, reporter=ctx)
        commands = CommandTool(["echo"], tmp_path, reporter=ctx)
        await files.write_text("notes/plan.txt", "step one")
        text = await files.read_text("notes/plan.txt")
        ran = await commands.run(["echo", text])
        try:
            await files.read_text("../outside.txt")
        except SandboxViolation as violation:
            return {"stdout": ran.stdout.strip(), "refused": violation.code}
        raise AssertionError("the escape was not refused")

    async with serving(worker):
        created = await client.create_task(kind)
        done = await client.wait_task(created.task.id, timeout_s=20)
    assert dict(done.task.result) == {"stdout": "step one", "refused": "sandbox.path_escape"}
    actions = await client.list_events(task_id=created.task.id, types=["agent.action"])
    reported = [(e.agent_action.name, e.agent_action.status) for e in actions.events]
    assert reported == [
        ("file.write", agents_pb2.ACTION_STATUS_SUCCEEDED),
        ("file.read", agents_pb2.ACTION_STATUS_SUCCEEDED),
        ("command.run", agents_pb2.ACTION_STATUS_SUCCEEDED),
        ("file.read", agents_pb2.ACTION_STATUS_FAILED),
    ]
    assert actions.events[-1].agent_action.error_message


async def test_a_lost_lease_cancels_the_handler_and_the_retry_runs(
    client: taskplane.Client,
) -> None:
    kind = unique_kind("lost")
    # Heartbeats slower than the task's heartbeat timeout: the first lease lapses.
    worker = Worker(client, "forgetful", concurrency=2, poll_wait_s=1, heartbeat_interval_s=1.0)
    lost = asyncio.Event()

    @worker.handler(kind)
    async def handle(ctx: TaskContext) -> Mapping[str, Any]:
        if ctx.attempt == 1:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                lost.set()
                raise
        return {"attempt": ctx.attempt}

    async with serving(worker):
        created = await client.create_task(
            kind, heartbeat_timeout_s=0.3, max_attempts=2, initial_backoff_s=0.05
        )
        done = await client.wait_task(created.task.id, timeout_s=30)
    assert lost.is_set()
    assert done.task.state == tasks_pb2.TASK_STATE_SUCCEEDED
    assert dict(done.task.result) == {"attempt": 2.0}
    retried = await client.list_events(task_id=created.task.id, types=["task.retrying"])
    assert retried.events[0].task_retrying.error.code == "lease_expired"
