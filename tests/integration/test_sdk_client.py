"""The SDK client against a real server: typed methods, exceptions with
status details, correlation ids, retries and resuming subscriptions."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import socket
from pathlib import Path

import pytest

import taskplane
from taskplane import correlation, errors
from taskplane.retry import RetryPolicy
from taskplane.v1 import agents_pb2, tasks_pb2, workspaces_pb2
from tests.conftest import Deployment, server_settings
from tests.support.servers import ServerProcess, admin_key, running_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_typed_methods_cover_a_task_lifecycle(client: taskplane.Client) -> None:
    created = await client.create_task(
        "sdk.lifecycle", {"n": 1}, labels={"suite": "sdk"}, priority=3, max_attempts=2
    )
    task = created.task
    assert not created.deduplicated
    assert (task.kind, task.priority, task.retry_policy.max_attempts) == ("sdk.lifecycle", 3, 2)
    assert (await client.get_task(task.id)).id == task.id
    page = await client.list_tasks(kinds=["sdk.lifecycle"], labels={"suite": "sdk"})
    assert task.id in [t.id for t in page.items]

    agent = await client.register_agent("sdk-agent", ["sdk.lifecycle"], max_concurrency=2)
    assert (await client.get_agent(agent.id)).name == "sdk-agent"
    leases = await client.acquire_tasks(agent.id, max_tasks=2, wait_s=5)
    assert [lease.task.id for lease in leases] == [task.id]
    ref = agents_pb2.LeaseRef(task_id=task.id, lease_id=leases[0].lease_id)
    updates = await client.heartbeat(agent.id, [ref])
    assert updates[0].status == agents_pb2.LEASE_STATUS_ACTIVE
    report = agents_pb2.AgentReport(message=agents_pb2.AgentMessage(content="hi"))
    (sequence,) = await client.report_events(ref, [report])
    finished = await client.complete_task(ref, {"answer": 42})
    assert finished.state == tasks_pb2.TASK_STATE_SUCCEEDED
    waited = await client.wait_task(task.id, timeout_s=5)
    assert waited.done
    assert dict(waited.task.result) == {"answer": 42.0}

    events = await client.list_events(task_id=task.id)
    assert sequence in [e.sequence for e in events.events]
    assert events.events[-1].type == "task.completed"
    assert events.head_sequence >= events.events[-1].sequence


async def test_iter_tasks_follows_page_tokens(client: taskplane.Client) -> None:
    label = {"batch": correlation.new_id()}
    ids = {(await client.create_task("sdk.page", labels=label)).task.id for _ in range(5)}
    seen = [t.id async for t in client.iter_tasks(labels=label, page_size=2)]
    assert sorted(seen) == sorted(ids)


async def test_create_is_idempotent_by_request_id(client: taskplane.Client) -> None:
    first = await client.create_task("sdk.idem", request_id="sdk-idem-1")
    second = await client.create_task("sdk.idem", request_id="sdk-idem-1")
    assert second.deduplicated
    assert second.task.id == first.task.id


async def test_cancel_and_requeue(client: taskplane.Client) -> None:
    task = (await client.create_task("sdk.cancel", max_attempts=1)).task
    cancelled = await client.cancel_task(task.id, reason="changed my mind")
    assert cancelled.state == tasks_pb2.TASK_STATE_CANCELLED
    with pytest.raises(errors.FailedPrecondition) as failure:
        await client.requeue_task(task.id)
    assert failure.value.reason


async def test_errors_are_typed_and_carry_status_details(client: taskplane.Client) -> None:
    with pytest.raises(errors.NotFound) as missing:
        await client.get_task("tsk_doesnotexist")
    assert missing.value.code.name == "NOT_FOUND"
    assert missing.value.correlation_id
    assert missing.value.method == "TaskService/GetTask"
    assert missing.value.correlation_id in str(missing.value)

    with pytest.raises(errors.InvalidArgument) as invalid:
        await client.create_task("", {"x": 1}, priority=10_000)
    violations = invalid.value.field_violations
    assert "task.kind" in violations
    assert "task.priority" in violations
    assert isinstance(invalid.value, errors.TaskplaneError)


async def test_wrong_key_is_unauthenticated(deployment: Deployment) -> None:
    bad = "tpk_invalid_invalid"  # pragma: allowlist secret
    async with await taskplane.connect(deployment.address, api_key=bad) as client:
        with pytest.raises(errors.Unauthenticated) as failure:
            await client.get_status()
    assert failure.value.reason


async def test_correlation_id_is_set_or_propagated(
    client: taskplane.Client, deployment: Deployment
) -> None:
    with correlation.bind("sdk-corr-propagated"):
        propagated = (await client.create_task("sdk.corr")).task
    assert propagated.correlation_id == "sdk-corr-propagated"
    async with await taskplane.connect(
        deployment.address, api_key=deployment.admin_key, correlation_id="sdk-corr-fixed"
    ) as fixed_client:
        fixed = (await fixed_client.create_task("sdk.corr")).task
    assert fixed.correlation_id == "sdk-corr-fixed"
    generated = (await client.create_task("sdk.corr")).task
    assert generated.correlation_id not in ("", "sdk-corr-fixed", "sdk-corr-propagated")


async def test_keys_and_workspaces(client: taskplane.Client) -> None:
    created = await client.create_api_key(workspaces_pb2.ROLE_VIEWER, "sdk viewer")
    assert created.secret
    key_ids: list[str] = []
    token = ""
    while True:
        page = await client.list_api_keys(page_size=100, page_token=token)
        key_ids.extend(key.id for key in page.items)
        token = page.next_page_token
        if not token:
            break
    assert created.api_key.id in key_ids
    revoked = await client.revoke_api_key(created.api_key.id)
    assert revoked.HasField("revoke_time")
    workspaces = await client.list_workspaces()
    assert workspaces.items
    status = await client.get_status()
    assert status.ready
    assert status.version


async def test_subscribe_from_now_and_until_end_of_stream(client: taskplane.Client) -> None:
    before = (await client.create_task("sdk.sub")).task
    task = (await client.create_task("sdk.sub")).task
    async with client.subscribe(from_now=True, types=["task.cancelled"]) as live:
        await client.cancel_task(before.id)
        got = await asyncio.wait_for(live.__anext__(), 10)
    assert got.task_id == before.id

    finished = client.subscribe(task_id=task.id)
    await client.cancel_task(task.id)
    types = [event.type async for event in finished]
    assert types == ["task.created", "task.cancelled"]
    assert finished.end is not None
    assert finished.end.last_sequence == finished.last_sequence


async def test_unavailable_is_retried_until_the_server_comes_up(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = dataclasses.replace(server_settings(tmp_path), listen_address=address)
    policy = RetryPolicy(max_attempts=50, initial_backoff_s=0.05, max_backoff_s=0.2)

    async def create(key: str) -> tasks_pb2.Task:
        async with await taskplane.connect(address, api_key=key, retry=policy) as late:
            return (await late.create_task("sdk.retry")).task

    async with running_server(settings):
        key = admin_key(tmp_path)
    pending = asyncio.ensure_future(create(key))
    await asyncio.sleep(0.5)
    assert not pending.done()
    async with running_server(settings):
        task = await asyncio.wait_for(pending, 30)
    assert task.kind == "sdk.retry"


async def test_unavailable_retries_are_bounded(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02)
    async with await taskplane.connect(address, api_key="k", retry=policy) as client:
        with pytest.raises(errors.Unavailable):
            await client.get_status()


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_subscription_resumes_across_a_server_restart(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {
        "TASKPLANE_LISTEN_ADDRESS": address,
        "TASKPLANE_DATA_DIR": str(tmp_path / "data"),
        "TASKPLANE_SHUTDOWN_GRACE_S": "1",
    }
    first = ServerProcess(env, tmp_path / "server.log")
    await asyncio.to_thread(first.start)
    key = admin_key(tmp_path / "data")
    patient = RetryPolicy(max_attempts=100, initial_backoff_s=0.1, max_backoff_s=0.5)
    client = await taskplane.connect(address, api_key=key, retry=patient)
    received: list[int] = []
    subscription = client.subscribe(types=["task.created"])

    async def read(count: int) -> None:
        async for event in subscription:
            received.append(event.sequence)
            if len(received) == count:
                return

    try:
        for _ in range(20):
            await client.create_task("sdk.restart")
        await asyncio.wait_for(read(20), 30)
        first.signal(signal.SIGKILL)
        await first.wait()
        reader = asyncio.ensure_future(read(40))
        second = ServerProcess(env, tmp_path / "server.log")
        try:
            await asyncio.to_thread(second.start)
            for _ in range(20):
                await client.create_task("sdk.restart")
            await asyncio.wait_for(reader, 60)
            stored = await client.list_events(types=["task.created"], page_size=100)
        finally:
            second.kill()
    finally:
        first.kill()
        await subscription.aclose()
        await client.close()
    assert subscription.reconnects >= 1
    assert received == [event.sequence for event in stored.events]
    assert len(received) == 40


async def test_with_options_sets_a_deadline_and_correlation_for_some_calls(
    client: taskplane.Client,
) -> None:
    short = client.with_options(correlation_id="sdk-options")
    tagged = (await short.create_task("sdk.options")).task
    assert tagged.correlation_id == "sdk-options"
    assert short.channel is client.channel

    # An HTTP/2 peer that sends its (empty) SETTINGS and then never answers a
    # call: only the deadline ends it.
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        writer.write(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        await writer.drain()

    mute = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = mute.sockets[0].getsockname()[1]
    try:
        async with await taskplane.connect(f"127.0.0.1:{port}", api_key="k") as stuck:
            with pytest.raises(errors.DeadlineExceeded):
                await stuck.with_options(timeout_s=0.3).get_status()
    finally:
        mute.close()
        for writer in connections:
            writer.close()
            await writer.wait_closed()
        await mute.wait_closed()
