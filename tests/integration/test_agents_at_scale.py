"""Many agents competing for one queue: every task is leased and completed
exactly once, on every backend."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

import pytest

from taskplane.v1 import events_pb2, tasks_pb2
from tests.conftest import Deployment
from tests.support.client import Api, acquire, complete_unless_aborted, register, task_states

pytestmark = pytest.mark.slow

AGENTS = 200
TASKS = 600
CHANNELS = 8
#: The whole run (registering, creating, acquiring, completing) must fit in this.
DEADLINE_S = 60.0
T = TypeVar("T")


@dataclasses.dataclass
class Tally:
    total: int
    completed: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    leases: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    aborted: list[str] = dataclasses.field(default_factory=list)
    not_succeeded: list[str] = dataclasses.field(default_factory=list)
    completed_by: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return len(self.completed) >= self.total


@pytest.fixture
async def channels(deployment: Deployment) -> AsyncIterator[list[Api]]:
    """A few connections shared by all the agents, as a worker pool would."""
    apis = [deployment.client() for _ in range(CHANNELS)]
    yield apis
    await asyncio.gather(*(api.close() for api in apis))


async def bounded(limit: int, calls: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Runs the calls with at most `limit` in flight; results in call order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


async def agent_loop(api: Api, agent_id: str, tally: Tally, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while not tally.finished:
        assert loop.time() < deadline, (
            f"work not done in time: {len(tally.completed)}/{tally.total} completed"
        )
        leases = await acquire(api, agent_id, max_tasks=2, wait=0.5)
        assert len(leases) <= 2
        for lease in leases:
            tally.leases[lease.task.id] += 1
            done = await complete_unless_aborted(api, lease)
            if done is None:
                tally.aborted.append(lease.task.id)
                continue
            tally.completed[lease.task.id] += 1
            tally.completed_by[lease.task.id] = agent_id
            if done.state != tasks_pb2.TASK_STATE_SUCCEEDED:
                tally.not_succeeded.append(lease.task.id)


async def events_since(api: Api, after: int, types: list[str]) -> list[events_pb2.Event]:
    """Stored events of some types after a sequence, all pages."""
    found: list[events_pb2.Event] = []
    request = events_pb2.ListEventsRequest(
        filter=events_pb2.EventFilter(types=types), after_sequence=after, page_size=1000
    )
    for _ in range(1000):
        response = await api.events.ListEvents(request)
        found.extend(response.events)
        if not response.next_page_token:
            return found
        request.page_token = response.next_page_token
    pytest.fail("ListEvents did not run out of pages")


@pytest.mark.timeout(150)
async def test_two_hundred_agents_complete_every_task_exactly_once(
    api: Api, channels: list[Api], deployment: Deployment
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    kind = f"scale-{uuid.uuid4().hex[:10]}"
    start = (await api.events.ListEvents(events_pb2.ListEventsRequest(page_size=1))).head_sequence

    agent_ids = await bounded(
        32,
        (
            functools.partial(
                register, channels[i % CHANNELS], kind, name=f"scale-agent-{i}", concurrency=2
            )
            for i in range(AGENTS)
        ),
    )
    assert len(set(agent_ids)) == AGENTS

    # The whole queue is there before the agents start: the point here is
    # contention for a backlog (long-poll wake-ups are covered by
    # test_task_lifecycle and test_replicas).
    async def create(index: int) -> str:
        response = await channels[index % CHANNELS].tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(
                task=tasks_pb2.Task(kind=kind), request_id=f"{kind}-{index}"
            )
        )
        assert not response.deduplicated
        return response.task.id

    created = await bounded(16, (functools.partial(create, i) for i in range(TASKS)))
    tally = Tally(TASKS)
    await asyncio.gather(
        *(
            agent_loop(channels[i % CHANNELS], agent_id, tally, deadline)
            for i, agent_id in enumerate(agent_ids)
        )
    )

    assert len(set(created)) == TASKS
    assert tally.aborted == [], f"{len(tally.aborted)} completions ABORTED"
    assert tally.not_succeeded == []
    assert [task for task, count in tally.leases.items() if count != 1] == []
    assert set(tally.completed) == set(created)
    assert sum(tally.completed.values()) == TASKS

    # The log agrees: one start and one completion per task, nothing else
    # leased any of them.
    started = collections.Counter(
        e.task_id for e in await events_since(api, start, ["task.started"])
    )
    completed = await events_since(api, start, ["task.completed"])
    completed_per_task = collections.Counter(e.task_id for e in completed)
    mine = set(created)
    assert {task: n for task, n in started.items() if task in mine} == dict.fromkeys(created, 1)
    assert {task: n for task, n in completed_per_task.items() if task in mine} == dict.fromkeys(
        created, 1
    )
    assert len([e for e in completed if e.task_id in mine]) == TASKS
    assert {e.task_id: e.agent_id for e in completed if e.task_id in mine} == tally.completed_by
    completers = set(tally.completed_by.values())
    assert completers <= set(agent_ids)
    # Many agents got work, not a handful that happened to poll first.
    assert len(completers) > AGENTS // 4, f"only {len(completers)} agents completed tasks"

    states = await task_states(api, kind)
    assert states == dict.fromkeys(created, tasks_pb2.TASK_STATE_SUCCEEDED)
    assert loop.time() < deadline, f"took longer than {DEADLINE_S}s on {deployment.backend}"
