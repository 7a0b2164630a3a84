"""Two server processes on one PostgreSQL database: work is leased exactly once
across replicas, and every replica's subscribers see the same gap-free log,
woken promptly by commits made through the other replica."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from taskplane.v1 import events_pb2, tasks_pb2
from tests.support.client import (
    Api,
    acquire,
    complete_unless_aborted,
    connect,
    register,
    seconds,
    task_states,
)
from tests.support.servers import (
    ServerProcess,
    admin_key,
    fresh_postgres_database,
    postgres_url,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TASKS = 300
AGENTS_PER_REPLICA = 4
CREATORS = 10
#: Time allowed for the whole workload (creates, leases, completions).
WORK_DEADLINE_S = 60.0
#: Time allowed for the last event of the workload to reach both subscribers.
DRAIN_S = 5.0
#: A commit through A must reach B's subscriber within this. The hub's
#: fallback poll runs every second, so only the LISTEN/NOTIFY wake-up keeps
#: every probe below it.
WAKE_UP_S = 0.9
PROBES = 5


def replica_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "TASKPLANE_LISTEN_ADDRESS": "127.0.0.1:0",
        "TASKPLANE_DATA_DIR": str(data_dir),
        "TASKPLANE_DATABASE_URL": database_url,
        # Two replicas (and perhaps the session's own server) share one
        # PostgreSQL with max_connections=100.
        "TASKPLANE_DATABASE_POOL_SIZE": "10",
        "TASKPLANE_REAPER_INTERVAL_S": "0.1",
        "TASKPLANE_SHUTDOWN_GRACE_S": "2",
    }


@contextlib.asynccontextmanager
async def started(process: ServerProcess) -> AsyncIterator[ServerProcess]:
    try:
        await asyncio.to_thread(process.start)
        yield process
    finally:
        process.kill()


class Follower:
    """Subscribes from after_sequence=0 and records every event with the
    (event loop) time it arrived."""

    def __init__(self, api: Api, name: str) -> None:
        self.api = api
        self.name = name
        self.events: list[events_pb2.Event] = []
        self.arrivals: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        request = events_pb2.SubscribeRequest(after_sequence=0, heartbeat_interval=seconds(1))
        call: Any = self.api.events.Subscribe(request)
        try:
            async for response in call:
                if response.HasField("batch"):
                    now = loop.time()
                    self.events.extend(response.batch.events)
                    self.arrivals.extend(now for _ in response.batch.events)
        finally:
            call.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def arrival_of(
        self, predicate: Callable[[events_pb2.Event], bool], timeout: float, after: int = 0
    ) -> float:
        """When the first event at index >= `after` satisfying `predicate`
        arrived; fails after `timeout` or if the stream ended."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = after
        while True:
            while index < len(self.events):
                if predicate(self.events[index]):
                    return self.arrivals[index]
                index += 1
            assert self._task is not None
            if self._task.done():
                self._task.result()  # raises the stream's error, if any
                pytest.fail(f"subscription on {self.name} ended early")
            if loop.time() > deadline:
                last = self.events[-1].sequence if self.events else 0
                pytest.fail(f"{self.name} subscriber: no matching event in {timeout}s (at {last})")
            await asyncio.sleep(0.005)


@dataclasses.dataclass
class Tally:
    """What the agents saw, across both replicas."""

    total: int
    completed: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    leases_via: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    aborted: list[str] = dataclasses.field(default_factory=list)
    not_succeeded: list[str] = dataclasses.field(default_factory=list)

    @property
    def finished(self) -> bool:
        return len(self.completed) >= self.total


async def agent_loop(api: Api, replica: str, agent_id: str, tally: Tally, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while not tally.finished:
        assert loop.time() < deadline, (
            f"work not done in time: {len(tally.completed)}/{tally.total} completed"
        )
        leases = await acquire(api, agent_id, max_tasks=5, wait=1.0)
        tally.leases_via[replica] += len(leases)
        for lease in leases:
            done = await complete_unless_aborted(api, lease)
            if done is None:
                tally.aborted.append(lease.task.id)
                continue
            tally.completed[lease.task.id] += 1
            if done.state != tasks_pb2.TASK_STATE_SUCCEEDED:
                tally.not_succeeded.append(lease.task.id)


async def create_tasks(api: Api, kind: str, indexes: range, created: list[str]) -> None:
    for index in indexes:
        response = await api.tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(
                task=tasks_pb2.Task(kind=kind), request_id=f"{kind}-{index}"
            )
        )
        assert not response.deduplicated
        created.append(response.task.id)


async def all_events(api: Api, types: list[str] | None = None) -> list[events_pb2.Event]:
    """Every stored event of the workspace (optionally of some types), paged."""
    found: list[events_pb2.Event] = []
    request = events_pb2.ListEventsRequest(
        filter=events_pb2.EventFilter(types=types or []), page_size=1000
    )
    for _ in range(1000):
        response = await api.events.ListEvents(request)
        found.extend(response.events)
        if not response.next_page_token:
            return found
        request.page_token = response.next_page_token
    pytest.fail("ListEvents did not run out of pages")


async def head_of(api: Api) -> int:
    response = await api.events.ListEvents(events_pb2.ListEventsRequest(page_size=1))
    return response.head_sequence


def created_event(task_id: str) -> Callable[[events_pb2.Event], bool]:
    return lambda event: event.type == "task.created" and event.task_id == task_id


def errors_logged(process: ServerProcess) -> list[dict[str, object]]:
    return [line for line in process.lines() if line.get("level") in {"error", "critical"}]


@pytest.mark.timeout(180)
async def test_two_replicas_on_postgres_lease_once_and_share_one_log(tmp_path: Path) -> None:
    if postgres_url() is None:
        pytest.skip("set TASKPLANE_TEST_DATABASE_URL to run against PostgreSQL")
    loop = asyncio.get_running_loop()
    kind = f"replica-{uuid.uuid4().hex[:10]}"
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(fresh_postgres_database())
        a = await stack.enter_async_context(
            started(ServerProcess(replica_env(a_dir, url), tmp_path / "a.log"))
        )
        # Only the first replica to bootstrap the empty database writes a key.
        key = admin_key(a_dir)
        b = await stack.enter_async_context(
            started(ServerProcess(replica_env(b_dir, url), tmp_path / "b.log"))
        )
        assert not (b_dir / "admin.key").exists()
        assert a.address != b.address
        api_a, api_b = connect(a.address, key), connect(b.address, key)
        stack.push_async_callback(api_a.close)
        stack.push_async_callback(api_b.close)
        apis = {"A": api_a, "B": api_b}

        followers = {name: Follower(api, name) for name, api in apis.items()}
        for follower in followers.values():
            follower.start()
            stack.push_async_callback(follower.stop)

        agents = [
            (name, await register(api, kind, name=f"agent-{name}-{i}", concurrency=5))
            for name, api in apis.items()
            for i in range(AGENTS_PER_REPLICA)
        ]
        # Agents on both replicas are already long-polling while A creates the
        # tasks: B's agents are woken by commits made through A.
        tally = Tally(TASKS)
        created: list[str] = []
        deadline = loop.time() + WORK_DEADLINE_S
        await asyncio.gather(
            *(agent_loop(apis[name], name, agent, tally, deadline) for name, agent in agents),
            *(
                create_tasks(api_a, kind, range(i, TASKS, CREATORS), created)
                for i in range(CREATORS)
            ),
        )
        work_done = loop.time()

        # Every task completed exactly once, through whichever replica leased it.
        assert len(set(created)) == TASKS
        assert tally.aborted == []
        assert tally.not_succeeded == []
        assert set(tally.completed) == set(created)
        assert sum(tally.completed.values()) == TASKS
        assert tally.leases_via["A"] + tally.leases_via["B"] == TASKS
        assert tally.leases_via["A"] > 0 and tally.leases_via["B"] > 0, tally.leases_via
        for api in apis.values():
            started_per_task = collections.Counter(
                e.task_id for e in await all_events(api, ["task.started"])
            )
            assert started_per_task == dict.fromkeys(created, 1)
            completed_per_task = collections.Counter(
                e.task_id for e in await all_events(api, ["task.completed"])
            )
            assert completed_per_task == dict.fromkeys(created, 1)
            states = await task_states(api, kind)
            assert states == dict.fromkeys(created, tasks_pb2.TASK_STATE_SUCCEEDED)

        # The workload's last event reaches both subscribers promptly.
        head = await head_of(api_a)
        assert await head_of(api_b) == head
        for follower in followers.values():
            arrived = await follower.arrival_of(lambda e: e.sequence >= head, DRAIN_S)
            assert arrived - work_done < DRAIN_S

        # On a quiet system, a commit through A reaches B's subscriber well
        # before B's fallback poll would have found it.
        probe_kind = f"probe-{uuid.uuid4().hex[:10]}"
        latencies: dict[str, list[float]] = {"A": [], "B": []}
        for _ in range(PROBES):
            await asyncio.sleep(0.05)
            marks = {name: len(follower.events) for name, follower in followers.items()}
            sent = loop.time()
            probe = await api_a.tasks.CreateTask(
                tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind=probe_kind))
            )
            for name, follower in followers.items():
                arrived = await follower.arrival_of(
                    created_event(probe.task.id), DRAIN_S, after=marks[name]
                )
                latencies[name].append(arrived - sent)
        assert max(latencies["B"]) < WAKE_UP_S, latencies

        # Both subscribers saw the same gap-free log, identical to the store's.
        head = await head_of(api_b)
        for follower in followers.values():
            await follower.arrival_of(lambda e: e.sequence >= head, DRAIN_S)
        stored = await all_events(api_a)
        expected_sequences = list(range(1, head + 1))
        assert [e.sequence for e in stored] == expected_sequences
        for follower in followers.values():
            assert [e.sequence for e in follower.events] == expected_sequences, follower.name
            assert [e.id for e in follower.events] == [e.id for e in stored], follower.name
            assert [e.type for e in follower.events] == [e.type for e in stored], follower.name
        registered = [e for e in stored if e.type == "agent.registered"]
        assert len(registered) == 2 * AGENTS_PER_REPLICA
        assert len(stored) == 2 * AGENTS_PER_REPLICA + 5 * TASKS + PROBES

        assert errors_logged(a) == []
        assert errors_logged(b) == []
