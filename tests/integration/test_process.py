"""The server as a real process: graceful drain on SIGTERM, and crash
recovery after SIGKILL with subscribers resuming from their cursor."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.api.interceptor import CORRELATION_HEADER
from taskplane.v1 import agents_pb2, events_pb2, tasks_pb2, workspaces_pb2
from tests.support.client import connect, seconds
from tests.support.servers import (
    ServerProcess,
    admin_key,
    fresh_postgres_database,
    postgres_url,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def process_env(tmp_path: Path) -> dict[str, str]:
    return {
        "TASKPLANE_LISTEN_ADDRESS": "127.0.0.1:0",
        "TASKPLANE_DATA_DIR": str(tmp_path / "data"),
        "TASKPLANE_SHUTDOWN_GRACE_S": "5",
    }


@contextlib.asynccontextmanager
async def server_process(env: dict[str, str], log: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(env, log)
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        process.kill()


async def test_sigterm_flips_readiness_and_lets_calls_finish(
    process_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**process_env, "TASKPLANE_SHUTDOWN_DELAY_S": "1"}
    async with server_process(env, tmp_path / "server.log") as process:
        api = connect(process.address, admin_key(tmp_path / "data"))
        health = health_pb2_grpc.HealthStub(api.channel)
        created = await api.tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="drain"))
        )
        in_flight = asyncio.ensure_future(
            api.tasks.WaitTask(
                tasks_pb2.WaitTaskRequest(task_id=created.task.id, timeout=seconds(2))
            )
        )
        await asyncio.sleep(0.3)
        process.signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        readiness = await health.Check(health_pb2.HealthCheckRequest(service="readiness"))
        liveness = await health.Check(health_pb2.HealthCheckRequest(service="liveness"))
        assert readiness.status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert liveness.status == health_pb2.HealthCheckResponse.SERVING
        response = await asyncio.wait_for(in_flight, 10)
        assert response.task.id == created.task.id and not response.done
        assert await process.wait() == 0
        await api.close()
    events = [line.get("event") for line in process.lines()]
    assert events.index("server.draining") < events.index("server.stopped")


async def _stream(
    address_of: list[str], key: str, received: list[events_pb2.Event], total: int
) -> None:
    """Follows the log from the beginning, reconnecting after failures and
    resuming after the last sequence received."""
    while len(received) < total:
        api = connect(address_of[0], key)
        cursor = received[-1].sequence if received else 0
        try:
            async for response in api.events.Subscribe(
                events_pb2.SubscribeRequest(after_sequence=cursor)
            ):
                received.extend(response.batch.events)
                if len(received) >= total:
                    break
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.2)
        finally:
            await api.close()


async def _produce(address_of: list[str], key: str, indexes: range) -> None:
    """Creates tasks with request ids, retrying across the crash; a retry of
    a create that did commit is deduplicated, so each id makes one task."""
    pending = list(indexes)
    while pending:
        api = connect(address_of[0], key)
        try:
            while pending:
                await api.tasks.CreateTask(
                    tasks_pb2.CreateTaskRequest(
                        task=tasks_pb2.Task(kind="crash"), request_id=f"crash-{pending[0]}"
                    ),
                    timeout=5,
                )
                pending.pop(0)
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.2)
        finally:
            await api.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_subscriber_resumes_after_sigkill_with_every_event_once(
    backend: str, process_env: dict[str, str], tmp_path: Path
) -> None:
    if backend == "sqlite":
        await _crash_and_resume(process_env, tmp_path)
        return
    if postgres_url() is None:
        pytest.skip("set TASKPLANE_TEST_DATABASE_URL to run against PostgreSQL")
    async with fresh_postgres_database() as url:
        env = {**process_env, "TASKPLANE_DATABASE_URL": url, "TASKPLANE_DATABASE_POOL_SIZE": "10"}
        await _crash_and_resume(env, tmp_path)


async def _crash_and_resume(process_env: dict[str, str], tmp_path: Path) -> None:
    """Kills the server (SIGKILL) while a subscriber streams 10,000 events and
    producers create them; after a restart the subscriber resumes from its
    last sequence and ends with every event exactly once, in order."""
    total = 10_000
    log = tmp_path / "server.log"
    first = ServerProcess(process_env, log)
    address_of = [await asyncio.to_thread(first.start)]
    key = admin_key(tmp_path / "data")
    received: list[events_pb2.Event] = []
    reader = asyncio.ensure_future(_stream(address_of, key, received, total))
    producers = 8
    producer = asyncio.gather(
        *(_produce(address_of, key, range(i, total, producers)) for i in range(producers))
    )
    while len(received) < 3_000:
        await asyncio.sleep(0.05)
    first.signal(signal.SIGKILL)
    await first.wait()
    second = ServerProcess(process_env, log)
    try:
        address_of[0] = await asyncio.to_thread(second.start)
        await asyncio.wait_for(producer, 300)
        await asyncio.wait_for(reader, 120)
    finally:
        second.kill()
        first.kill()
    sequences = [event.sequence for event in received]
    assert sequences == list(range(1, total + 1))
    created = [e.task_created.task.request_id for e in received if e.type == "task.created"]
    assert sorted(created) == sorted(f"crash-{i}" for i in range(total))


async def test_logs_never_contain_keys_or_secrets(
    process_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = {**process_env, "TASKPLANE_LOG_LEVEL": "debug"}
    secrets: list[str] = []
    async with server_process(env, log) as process:
        admin = admin_key(tmp_path / "data")
        secrets.append(admin)
        api = connect(process.address, admin)
        created = await api.workspaces.CreateApiKey(
            workspaces_pb2.CreateApiKeyRequest(
                api_key=workspaces_pb2.ApiKey(role=workspaces_pb2.ROLE_OPERATOR)
            )
        )
        secrets.append(created.secret)
        other = await api.workspaces.CreateWorkspace(
            workspaces_pb2.CreateWorkspaceRequest(
                workspace=workspaces_pb2.Workspace(display_name="other")
            )
        )
        secrets.append(other.admin_key_secret)
        operator = connect(process.address, created.secret)
        task = await operator.tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="secret-hygiene"))
        )
        await api.workspaces.RevokeApiKey(
            workspaces_pb2.RevokeApiKeyRequest(api_key_id=created.api_key.id)
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await operator.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id=task.task.id))
        wrong = created.secret[:-4] + "abcd"
        secrets.append(wrong)
        stranger = connect(process.address, wrong)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stranger.tasks.ListTasks(tasks_pb2.ListTasksRequest())
        assert wrong not in (caught.value.details() or "")
        await stranger.close()
        await operator.close()
        await api.close()
    text = log.read_text()
    assert "rpc.access" in text and "bootstrap.admin_key_written" in text
    for secret in secrets:
        assert secret not in text
        assert secret.split(".", 1)[1] not in text


async def test_one_correlation_id_runs_through_logs_and_events(
    process_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    correlation = "order-4711-" + uuid.uuid4().hex[:8]
    header = (("x-correlation-id", correlation),)
    async with server_process(process_env, log) as process:
        api = connect(process.address, admin_key(tmp_path / "data"))
        created = await api.tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="traced")), metadata=header
        )
        agent = await api.agents.RegisterAgent(
            agents_pb2.RegisterAgentRequest(
                agent=agents_pb2.Agent(name="tracer", capabilities=["traced"])
            ),
            metadata=header,
        )
        acquired = await api.agents.AcquireTasks(
            agents_pb2.AcquireTasksRequest(agent_id=agent.agent.id, wait=seconds(2)),
            metadata=header,
        )
        [lease] = acquired.leases
        lease_ref = agents_pb2.LeaseRef(task_id=lease.task.id, lease_id=lease.lease_id)
        await api.agents.ReportEvents(
            agents_pb2.ReportEventsRequest(
                lease=lease_ref,
                reports=[agents_pb2.AgentReport(message=agents_pb2.AgentMessage(content="hi"))],
            ),
            metadata=header,
        )
        call = api.agents.CompleteTask(
            agents_pb2.CompleteTaskRequest(lease=lease_ref), metadata=header
        )
        await call
        assert (CORRELATION_HEADER, correlation) in tuple(await call.trailing_metadata())
        history = await api.events.ListEvents(
            events_pb2.ListEventsRequest(filter=events_pb2.EventFilter(task_id=created.task.id))
        )
        await api.close()
    assert {e.correlation_id for e in history.events} == {correlation}
    assert len(history.events) >= 6
    lines = [json.loads(raw) for raw in log.read_text().splitlines() if raw.strip()]
    access = [line for line in lines if line.get("event") == "rpc.access"]
    chain = [line for line in access if "ListEvents" not in str(line["rpc"])]
    assert len(chain) == 5
    assert {line["correlation_id"] for line in chain} == {correlation}
    assert all(line["code"] == "OK" and line["duration_ms"] >= 0 for line in chain)


@pytest.mark.parametrize(("setting", "expected"), [("auto", "uvloop"), ("asyncio", "asyncio")])
async def test_the_server_runs_on_the_event_loop_its_setting_names(
    process_env: dict[str, str], tmp_path: Path, setting: str, expected: str
) -> None:
    log = tmp_path / "server.log"
    env = {**process_env, "TASKPLANE_EVENT_LOOP": setting}
    async with server_process(env, log) as process:
        api = connect(process.address, admin_key(tmp_path / "data"))
        created = await api.tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="loop.check"))
        )
        assert created.task.state == tasks_pb2.TASK_STATE_QUEUED
        await api.close()
        started = [line for line in process.lines() if line.get("event") == "server.started"]
    assert [line["event_loop"] for line in started] == [expected]
