"""Closed-loop loads measured over a fixed window after a warm-up, and the
fixed-rate publisher. Each load counts what completed between two snapshots
taken at the window's edges, together with the server's CPU time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import grpc
from google.protobuf import duration_pb2, empty_pb2, struct_pb2

from benchkit.bare import empty_methods
from benchkit.client import Api
from benchkit.procs import CpuSample
from taskplane.v1 import agents_pb2, tasks_pb2


@dataclasses.dataclass(frozen=True)
class Window:
    warmup_s: float
    """Load runs this long before counting starts."""
    duration_s: float
    """Then counting lasts this long."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one run does; `--quick` shortens the windows."""

    window: Window
    concurrency: int = 64
    """Unary calls in flight (empty unary, CreateTask)."""
    channels: int = 4
    """Channels (connections) per client process."""
    subscribers: int = 1000
    """Streams for the fan-out baselines, the idle-memory and fan-out runs."""
    subscriber_processes: int = 4
    """Client processes the subscribers are spread over (all on core 1)."""
    fanout_rate: float = 1000.0
    """Events per second the fan-out publisher tries to create."""
    fanout_s: float = 5.0
    """How long the fan-out publisher runs."""
    agents: int = 8
    max_tasks: int = 16
    """AcquireTasks max_tasks, also each agent's max_concurrency."""
    producers: int = 16
    """Concurrent CreateTask loops feeding the agents."""
    celery_pools: tuple[tuple[str, int], ...] = (("prefork", 2), ("solo", 1))
    """Celery worker pools tried (pool, --concurrency); the faster one counts."""
    comparison_rounds: int = 3
    """Rounds of end to end on SQLite, each followed at once by Celery on the
    same number of tasks; the median of the rounds counts."""

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(Window(0.5, 2.0), fanout_s=2.0, comparison_rounds=1)
        return cls(Window(1.0, 5.0))


@dataclasses.dataclass(frozen=True)
class Rate:
    """Units completed in a window, with the CPU both sides spent meanwhile."""

    count: int
    seconds: float
    server_cpu_s: float
    client_cpu_s: float
    machine_cpu_s: float
    errors: int = 0

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_cpu(self) -> float:
        """Share of one core the server used (1.0 = saturated)."""
        return self.server_cpu_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cpu(self) -> float:
        return self.client_cpu_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def other_cpu(self) -> float:
        """Cores used by anything else meanwhile (databases, other work)."""
        other = self.machine_cpu_s - self.server_cpu_s - self.client_cpu_s
        return max(other, 0.0) / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass
class Meter:
    count: int = 0
    errors: int = 0


Worker = Callable[[int], Coroutine[Any, Any, None]]


async def measure(
    workers: Sequence[Worker], meter: Meter, window: Window, server_pgid: int
) -> Rate:
    """Runs the workers (each gets its index) until the window closes, then
    cancels them; counts what the meter saw inside the window."""
    tasks = [asyncio.create_task(worker(index)) for index, worker in enumerate(workers)]
    try:
        await asyncio.sleep(window.warmup_s)
        count0, errors0, before = meter.count, meter.errors, CpuSample.take(server_pgid)
        await asyncio.sleep(window.duration_s)
        count1, errors1, after = meter.count, meter.errors, CpuSample.take(server_pgid)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    failed = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} workers failed, first: {failed[0]!r}")
    return Rate(
        count=count1 - count0,
        seconds=after.wall - before.wall,
        server_cpu_s=after.server - before.server,
        client_cpu_s=after.own - before.own,
        machine_cpu_s=after.machine - before.machine,
        errors=errors1 - errors0,
    )


async def _counted(meter: Meter, call: Awaitable[object]) -> None:
    try:
        await call
    except grpc.aio.AioRpcError:
        meter.errors += 1
        await asyncio.sleep(0.01)
    else:
        meter.count += 1


async def empty_unary(
    channels: Sequence[grpc.aio.Channel], concurrency: int, window: Window, server_pgid: int
) -> Rate:
    methods = empty_methods(channels)
    meter = Meter()
    request = empty_pb2.Empty()

    async def worker(index: int) -> None:
        method = methods[index % len(methods)]
        while True:
            await _counted(meter, method(request))

    return await measure([worker] * concurrency, meter, window, server_pgid)


def new_task(kind: str, number: int) -> tasks_pb2.CreateTaskRequest:
    task_input = struct_pb2.Struct()
    task_input["n"] = number
    return tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind=kind, input=task_input))


async def create_tasks(
    apis: Sequence[Api], concurrency: int, window: Window, server_pgid: int
) -> Rate:
    meter = Meter()

    async def worker(index: int) -> None:
        api = apis[index % len(apis)]
        number = 0
        while True:
            number += 1
            await _counted(meter, api.tasks.CreateTask(new_task("bench.create", number)))

    return await measure([worker] * concurrency, meter, window, server_pgid)


async def tasks_to_read(api: Api, count: int = 256) -> list[str]:
    """Creates `count` tasks for a GetTask load; returns their ids."""
    return [
        (await api.tasks.CreateTask(new_task("bench.get", number))).task.id
        for number in range(count)
    ]


async def get_tasks(
    apis: Sequence[Api], concurrency: int, window: Window, server_pgid: int
) -> Rate:
    """GetTask of existing tasks in a closed loop: the cost of the cheapest
    authenticated call that reads the store, next to CreateTask's."""
    created = await tasks_to_read(apis[0])
    meter = Meter()

    async def worker(index: int) -> None:
        api = apis[index % len(apis)]
        number = index
        while True:
            number += 1
            task_id = created[number % len(created)]
            await _counted(meter, api.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id=task_id)))

    return await measure([worker] * concurrency, meter, window, server_pgid)


async def register_agent(api: Api, kind: str, name: str, concurrency: int) -> str:
    response = await api.agents.RegisterAgent(
        agents_pb2.RegisterAgentRequest(
            agent=agents_pb2.Agent(name=name, capabilities=[kind], max_concurrency=concurrency)
        )
    )
    return response.agent.id


async def end_to_end(
    apis: Sequence[Api],
    window: Window,
    server_pgid: int,
    *,
    agents: int,
    max_tasks: int,
    producers: int,
) -> Rate:
    """Producers create tasks while agents acquire and complete them; counts
    completions. Producers keep at most 2 x agents x max_tasks tasks
    outstanding (created, not yet completed), so creating never starves
    completing."""
    kind = "bench.e2e"
    agent_ids = [
        await register_agent(apis[i % len(apis)], kind, f"bench-{i}", max_tasks)
        for i in range(agents)
    ]
    backlog = asyncio.Semaphore(2 * agents * max_tasks)
    meter = Meter()
    wait = duration_pb2.Duration(seconds=1)
    result = struct_pb2.Struct()
    result["ok"] = True

    async def complete(api: Api, lease: agents_pb2.Lease) -> None:
        ref = agents_pb2.LeaseRef(task_id=lease.task.id, lease_id=lease.lease_id)
        await _counted(
            meter, api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref, result=result))
        )
        backlog.release()

    async def agent(index: int) -> None:
        api = apis[index % len(apis)]
        request = agents_pb2.AcquireTasksRequest(
            agent_id=agent_ids[index], max_tasks=max_tasks, wait=wait
        )
        while True:
            try:
                response = await api.agents.AcquireTasks(request)
            except grpc.aio.AioRpcError:
                meter.errors += 1
                await asyncio.sleep(0.01)
                continue
            await asyncio.gather(*(complete(api, lease) for lease in response.leases))

    async def producer(index: int) -> None:
        api = apis[index % len(apis)]
        number = 0
        while True:
            await backlog.acquire()
            number += 1
            try:
                await api.tasks.CreateTask(new_task(kind, number))
            except grpc.aio.AioRpcError:
                backlog.release()
                meter.errors += 1
                await asyncio.sleep(0.01)

    workers: list[Worker] = [agent] * agents
    workers += [lambda index: producer(index - agents)] * producers
    return await measure(workers, meter, window, server_pgid)


@dataclasses.dataclass(frozen=True)
class Published:
    sent: int
    failed: int
    started: float
    """Wall-clock time of the first send."""
    seconds: float


async def publish(
    apis: Sequence[Api], rate: float, seconds: float, max_in_flight: int = 128
) -> Published:
    """Creates tasks at a fixed rate (open loop, at most `max_in_flight`
    outstanding), each one `task.created` event. A server that cannot keep up
    gets fewer: sending stops one second after the planned end, and calls
    still outstanding five seconds later are cancelled."""
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(max_in_flight)
    meter = Meter()
    pending: set[asyncio.Task[None]] = set()

    async def send(number: int) -> None:
        try:
            request = new_task("bench.fanout", number)
            await _counted(meter, apis[number % len(apis)].tasks.CreateTask(request))
        finally:
            slots.release()

    started, start = time.time(), loop.time()
    stop_sending = start + seconds + 1.0
    for number in range(int(rate * seconds)):
        delay = start + number / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(slots.acquire(), stop_sending - loop.time())
        if loop.time() >= stop_sending:
            break
        task = asyncio.create_task(send(number))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(set(pending), timeout=5.0)
    for task in set(pending):
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return Published(meter.count, meter.errors, started, loop.time() - start)
