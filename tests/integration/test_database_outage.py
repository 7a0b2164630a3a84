"""A PostgreSQL outage and its recovery, on a throwaway cluster this test
creates: readiness turns NOT_SERVING and back, calls fail with UNAVAILABLE
(never INTERNAL) meanwhile, and a subscriber ends with every event once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from taskplane.v1 import events_pb2, status_pb2, tasks_pb2
from tests.conftest import server_settings
from tests.support.client import Api, connect, details_of
from tests.support.pgcluster import PostgresCluster, postgres_bin, postgres_cluster
from tests.support.servers import admin_key, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HEALTH_NAMES = ["", "readiness", "taskplane.v1.TaskService", "taskplane.v1.EventService"]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DEADLINE_S = 30.0
OK = status_pb2.DEPENDENCY_STATE_OK
RECOVERING = ["database", "notification_listener", "event_hub"]


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb) not found under /usr/lib/postgresql")
    with postgres_cluster(bin_dir) as started:
        yield started


async def eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls until `probe` is true, failing after a generous deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not await probe():
        assert loop.time() < deadline, f"not within {DEADLINE_S} s: {what}"
        await asyncio.sleep(0.1)


class Follower:
    """Subscribes from the beginning and, whenever its stream breaks, resumes
    after the last sequence it received."""

    def __init__(self, address: str, key: str) -> None:
        self.address, self.key = address, key
        self.received: list[events_pb2.Event] = []
        self.breaks: list[grpc.StatusCode] = []

    async def run(self) -> None:
        while True:
            api = connect(self.address, self.key)
            cursor = self.received[-1].sequence if self.received else 0
            try:
                request = events_pb2.SubscribeRequest(after_sequence=cursor)
                async for response in api.events.Subscribe(request):
                    self.received.extend(response.batch.events)
            except grpc.aio.AioRpcError as error:
                self.breaks.append(error.code())
                await asyncio.sleep(0.2)
            finally:
                await api.close()

    def has(self, sequence: int) -> bool:
        return bool(self.received) and self.received[-1].sequence >= sequence


async def create_all(api: Api, request_ids: list[str], failures: list[grpc.StatusCode]) -> None:
    """Creates a task per request id, retrying each until it succeeds; a retry
    of a create that did commit returns the same task."""
    for request_id in request_ids:
        while True:
            try:
                await api.tasks.CreateTask(
                    tasks_pb2.CreateTaskRequest(
                        task=tasks_pb2.Task(kind="outage"), request_id=request_id
                    ),
                    timeout=10,
                )
                break
            except grpc.aio.AioRpcError as error:
                failures.append(error.code())
                await asyncio.sleep(0.2)


async def health_of(health: health_pb2_grpc.HealthAsyncStub) -> set[int]:
    answers = [
        await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        for name in HEALTH_NAMES
    ]
    return {answer.status for answer in answers}


async def checks_of(api: Api) -> dict[str, status_pb2.DependencyStatus]:
    status = await api.status.GetStatus(status_pb2.GetStatusRequest(), timeout=10)
    return {check.name: check for check in status.dependencies}


async def all_events(api: Api) -> list[events_pb2.Event]:
    events: list[events_pb2.Event] = []
    while True:
        page = await api.events.ListEvents(
            events_pb2.ListEventsRequest(
                after_sequence=events[-1].sequence if events else 0, page_size=1000
            )
        )
        events.extend(page.events)
        if not page.next_page_token:
            return events


@pytest.mark.timeout(240)
async def test_outage_turns_readiness_off_and_recovery_loses_no_event(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    settings = server_settings(tmp_path, cluster.url, readiness_interval_s=0.5)
    async with running_server(settings) as server:
        api = connect(server.address, admin_key(tmp_path))
        health = health_pb2_grpc.HealthStub(api.channel)
        follower = Follower(server.address, admin_key(tmp_path))
        following = asyncio.ensure_future(follower.run())
        failures: list[grpc.StatusCode] = []
        try:
            await create_all(api, [f"before-{i}" for i in range(30)], failures)
            assert failures == []
            before = (await all_events(api))[-1].sequence

            async def caught_up_before() -> bool:
                return follower.has(before)

            await eventually(caught_up_before, "the subscriber receives the first events")

            await asyncio.to_thread(cluster.stop)
            producing = asyncio.ensure_future(
                create_all(api, [f"across-{i}" for i in range(30)], failures)
            )

            async def not_serving() -> bool:
                return await health_of(health) == {NOT_SERVING}

            await eventually(not_serving, "readiness turns NOT_SERVING")
            liveness = await health.Check(health_pb2.HealthCheckRequest(service="liveness"))
            assert liveness.status == SERVING

            status = await api.status.GetStatus(status_pb2.GetStatusRequest(), timeout=10)
            checks = {check.name: check for check in status.dependencies}
            assert not status.ready
            assert checks["database"].state == status_pb2.DEPENDENCY_STATE_DOWN
            assert "database unavailable" in checks["database"].detail

            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await api.tasks.CreateTask(
                    tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="outage")), timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            details = details_of(caught.value)
            [info] = [d for d in details if isinstance(d, error_details_pb2.ErrorInfo)]
            assert (info.reason, info.domain) == ("DATABASE_UNAVAILABLE", "taskplane.dev")
            assert any(isinstance(d, error_details_pb2.RetryInfo) for d in details)

            await asyncio.to_thread(cluster.start)

            async def serving() -> bool:
                return await health_of(health) == {SERVING}

            await eventually(serving, "readiness turns SERVING again")
            after = await api.tasks.CreateTask(
                tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind="outage"), request_id="after")
            )
            assert after.task.state == tasks_pb2.TASK_STATE_QUEUED
            await asyncio.wait_for(producing, DEADLINE_S)

            async def recovered() -> bool:
                checks = await checks_of(api)
                return all(checks[name].state == OK for name in RECOVERING)

            await eventually(recovered, "the database, listener and hub checks are OK again")

            stored = await all_events(api)

            async def caught_up() -> bool:
                return follower.has(stored[-1].sequence)

            await eventually(caught_up, "the subscriber receives every event")
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
            await api.close()

    # The producer's first attempt met the outage; nothing ever said INTERNAL.
    assert failures and set(failures) == {grpc.StatusCode.UNAVAILABLE}
    assert set(follower.breaks) <= {grpc.StatusCode.UNAVAILABLE}
    sequences = [event.sequence for event in follower.received]
    assert sequences == [event.sequence for event in stored]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    created = [
        e.task_created.task.request_id for e in follower.received if e.type == "task.created"
    ]
    expected = [f"before-{i}" for i in range(30)] + [f"across-{i}" for i in range(30)]
    assert sorted(created) == sorted([*expected, "after"])
