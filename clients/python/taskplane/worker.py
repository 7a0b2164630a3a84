"""The agent worker runtime.

    worker = Worker(client, "summarizer", concurrency=4)

    @worker.handler("summarize")
    async def summarize(ctx: TaskContext) -> dict[str, Any]:
        await ctx.thinking("reading the page")
        return {"summary": ...}

    await worker.run()  # until SIGTERM/SIGINT or worker.stop()

The worker registers itself with the kinds it has handlers for, leases tasks
in batches up to its free concurrency (long-polling when idle), heartbeats
every lease in the background, and finishes each task by what its handler
did: a return value completes it, `TaskFailure` fails it (retryable or not),
any other exception fails it as retryable. A cancel request or a lost lease
cancels the handler's coroutine. `stop()` drains: no new leases, running
handlers get `drain_timeout_s` to finish, the rest are failed as retryable so
another agent takes them over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from google.protobuf import duration_pb2

from taskplane import correlation
from taskplane.agent.reporting import ActionStatus
from taskplane.client import Client
from taskplane.errors import Aborted, NotFound, TaskFailure, TaskplaneError
from taskplane.structs import from_struct, to_struct
from taskplane.v1 import agents_pb2, tasks_pb2

Handler = Callable[["TaskContext"], Awaitable[Mapping[str, Any] | None]]

_ACTION_STATUS = {
    ActionStatus.STARTED: agents_pb2.ACTION_STATUS_STARTED,
    ActionStatus.SUCCEEDED: agents_pb2.ACTION_STATUS_SUCCEEDED,
    ActionStatus.FAILED: agents_pb2.ACTION_STATUS_FAILED,
}
_log = logging.getLogger("taskplane.worker")

_LEASE_GONE = (Aborted, NotFound)
"""What lease calls answer once the lease expired or the task moved on."""


@dataclasses.dataclass
class _Running:
    lease: agents_pb2.Lease
    job: asyncio.Task[None]
    stop_reason: str = ""
    """Set before the runtime cancels the handler: cancelled, lease_lost, drain."""


class TaskContext:
    """What a handler gets: its task, and the means to report as it works.

    Implements `taskplane.agent.reporting.ActionReporter`, so sandboxed tools
    report their calls through it.
    """

    def __init__(self, client: Client, lease: agents_pb2.Lease) -> None:
        self.client = client
        self.lease = lease
        self.task: tasks_pb2.Task = lease.task
        self.input: dict[str, Any] = from_struct(lease.task.input)
        self.lease_ref = agents_pb2.LeaseRef(task_id=lease.task.id, lease_id=lease.lease_id)

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def attempt(self) -> int:
        return self.lease.attempt

    async def _report(self, report: agents_pb2.AgentReport) -> int:
        (sequence,) = await self.client.report_events(self.lease_ref, [report])
        return sequence

    async def message(
        self, content: str, *, role: str = "assistant", metadata: Mapping[str, Any] | None = None
    ) -> int:
        """Reports an `agent.message`; returns its event sequence."""
        message = agents_pb2.AgentMessage(role=role, content=content, metadata=to_struct(metadata))
        return await self._report(agents_pb2.AgentReport(message=message))

    async def thinking(self, content: str) -> int:
        """Reports an `agent.thinking`; returns its event sequence."""
        thinking = agents_pb2.AgentThinking(content=content)
        return await self._report(agents_pb2.AgentReport(thinking=thinking))

    async def action(
        self,
        name: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        output: Mapping[str, Any] | None = None,
        status: ActionStatus = ActionStatus.SUCCEEDED,
        duration_s: float | None = None,
        error_message: str = "",
    ) -> None:
        """Reports an `agent.action`, e.g. one tool call."""
        action = agents_pb2.AgentAction(
            name=name,
            arguments=to_struct(arguments),
            output=to_struct(output),
            status=_ACTION_STATUS[status],
            error_message=error_message,
        )
        if duration_s is not None:
            action.duration.CopyFrom(_duration(duration_s))
        await self._report(agents_pb2.AgentReport(action=action))


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


class Worker:
    """Runs handlers for task kinds; see the module docstring."""

    def __init__(
        self,
        client: Client,
        name: str,
        capabilities: list[str] | None = None,
        concurrency: int = 4,
        *,
        poll_wait_s: float = 20.0,
        heartbeat_interval_s: float | None = None,
        drain_timeout_s: float = 30.0,
        version: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.name = name
        self.concurrency = concurrency
        self.agent_id = ""
        self._capabilities = capabilities
        self._poll_wait_s = poll_wait_s
        self._heartbeat_interval_s = heartbeat_interval_s
        self._drain_timeout_s = drain_timeout_s
        self._version = version
        self._labels = dict(labels or {})
        self._handlers: dict[str, Handler] = {}
        self._running: dict[str, _Running] = {}
        """By lease id: a task may come back to this worker under a new lease
        while the handler of its lost one is still being stopped."""
        self._stopping = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._leases_changed = asyncio.Event()
        self.completed = 0
        self.failed = 0

    def handler(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator: `fn` handles tasks of `kind`."""

        def register(fn: Handler) -> Handler:
            self.register(kind, fn)
            return fn

        return register

    def register(self, kind: str, fn: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self._handlers[kind] = fn

    @property
    def capabilities(self) -> list[str]:
        return list(self._capabilities or sorted(self._handlers))

    @property
    def running(self) -> int:
        return len(self._running)

    def stop(self) -> None:
        """Begin draining; `run()` returns once running handlers are done."""
        self._stopping.set()
        self._slot_free.set()

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        """Serve until `stop()` (or SIGTERM/SIGINT when installed), then drain."""
        if not self._handlers:
            raise ValueError("register at least one handler before run()")
        missing = set(self.capabilities) - set(self._handlers)
        if missing:
            raise ValueError(f"no handler for capabilities {sorted(missing)}")
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if install_signal_handlers else ()
        for signum in signals:
            loop.add_signal_handler(signum, self.stop)
        try:
            agent = await self.client.register_agent(
                self.name,
                self.capabilities,
                max_concurrency=self.concurrency,
                version=self._version,
                labels=self._labels,
            )
            self.agent_id = agent.id
            heartbeats = asyncio.create_task(self._heartbeat_loop())
            try:
                await self._acquire_loop()
                await self._drain()
            finally:
                heartbeats.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeats
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)

    async def _acquire_loop(self) -> None:
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            acquire = asyncio.create_task(
                self.client.acquire_tasks(
                    self.agent_id,
                    max_tasks=free,
                    wait_s=self._poll_wait_s,
                    kinds=list(self._handlers),
                )
            )
            stopping = asyncio.create_task(self._stopping.wait())
            done, _ = await asyncio.wait({acquire, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if acquire not in done:
                acquire.cancel()
                with contextlib.suppress(asyncio.CancelledError, TaskplaneError):
                    await acquire
                return
            try:
                leases = acquire.result()
            except TaskplaneError:
                # Retries of UNAVAILABLE are spent; wait a little and poll again.
                await self._pause(1.0)
                continue
            for lease in leases:
                self._start(lease)

    async def _pause(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for, here and below: on Python 3.11
        # wait_for drops a cancellation that arrives just as the event is set.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    def _start(self, lease: agents_pb2.Lease) -> None:
        job = asyncio.create_task(self._execute(lease), name=f"task {lease.task.id}")
        self._running[lease.lease_id] = _Running(lease, job)
        self._leases_changed.set()
        job.add_done_callback(lambda _: self._finished(lease.lease_id))

    def _finished(self, lease_id: str) -> None:
        self._running.pop(lease_id, None)
        self._slot_free.set()

    async def _execute(self, lease: agents_pb2.Lease) -> None:
        ctx = TaskContext(self.client, lease)
        handler = self._handlers.get(lease.task.kind)
        with correlation.bind(lease.task.correlation_id):
            if handler is None:
                await self._fail(ctx, TaskFailure(f"no handler for kind {lease.task.kind!r}"))
                return
            try:
                result = await handler(ctx)
            except asyncio.CancelledError:
                await self._cancelled(ctx)
                return
            except TaskFailure as failure:
                await self._fail(ctx, failure)
                return
            except Exception as error:  # any handler bug fails the task, retryably
                unexpected = TaskFailure(
                    f"{type(error).__name__}: {error}", retryable=True, code="handler_error"
                )
                await self._fail(ctx, unexpected)
                return
            try:
                await self.client.complete_task(ctx.lease_ref, result or {})
                self.completed += 1
            except TaskplaneError as error:
                self._not_reported(ctx, "completion", error)

    async def _cancelled(self, ctx: TaskContext) -> None:
        running = self._running.get(ctx.lease.lease_id)
        reason = running.stop_reason if running else ""
        if reason == "cancelled":
            await self._fail(ctx, TaskFailure("cancelled on request", code="cancelled"))
        elif reason == "drain":
            await self._fail(
                ctx, TaskFailure("the worker shut down", retryable=True, code="worker_shutdown")
            )
        elif reason != "lease_lost":
            raise asyncio.CancelledError

    async def _fail(self, ctx: TaskContext, failure: TaskFailure) -> None:
        try:
            await self.client.fail_task(
                ctx.lease_ref,
                failure.message,
                retryable=failure.retryable,
                code=failure.code or "handler_error",
                details=failure.details,
            )
            self.failed += 1
        except TaskplaneError as error:
            self._not_reported(ctx, "failure", error)

    @staticmethod
    def _not_reported(ctx: TaskContext, outcome: str, error: TaskplaneError) -> None:
        """The server did not take the outcome: the lease is gone (another
        attempt owns the task now) or the server stayed unreachable (the lease
        will lapse and the task be retried). Either way there is nothing to do."""
        level = logging.INFO if isinstance(error, _LEASE_GONE) else logging.WARNING
        _log.log(level, "%s of task %s not recorded: %s", outcome, ctx.task_id, error)

    def _interrupt(self, lease_id: str, reason: str) -> None:
        running = self._running.get(lease_id)
        if running is not None and not running.stop_reason:
            running.stop_reason = reason
            running.job.cancel()

    async def _heartbeat_loop(self) -> None:
        last = time.monotonic()
        while True:
            self._leases_changed.clear()
            due = last + self._next_heartbeat_s()
            delay = due - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._leases_changed.wait()
                if time.monotonic() < due:
                    continue  # a new lease may need an earlier beat: recompute
            last = time.monotonic()
            await self._beat()

    async def _beat(self) -> None:
        refs = [
            agents_pb2.LeaseRef(task_id=r.lease.task.id, lease_id=lease_id)
            for lease_id, r in self._running.items()
        ]
        try:
            updates = await self.client.heartbeat(self.agent_id, refs)
        except TaskplaneError:
            return
        for update in updates:
            if update.status == agents_pb2.LEASE_STATUS_CANCEL_REQUESTED:
                self._interrupt(update.lease_id, "cancelled")
            elif update.status == agents_pb2.LEASE_STATUS_LOST:
                self._interrupt(update.lease_id, "lease_lost")
            elif update.HasField("expire_time") and update.lease_id in self._running:
                self._running[update.lease_id].lease.expire_time.CopyFrom(update.expire_time)

    def _next_heartbeat_s(self) -> float:
        """A third of the shortest remaining lease, so two beats may be lost."""
        if self._heartbeat_interval_s is not None:
            return self._heartbeat_interval_s
        now = time.time()
        remaining = [
            r.lease.expire_time.ToNanoseconds() / 1e9 - now for r in self._running.values()
        ]
        if not remaining:
            return 5.0
        return min(max(min(remaining) / 3, 0.1), 10.0)

    async def _drain(self) -> None:
        jobs = [r.job for r in self._running.values()]
        if jobs:
            await asyncio.wait(jobs, timeout=self._drain_timeout_s)
        for lease_id in list(self._running):
            self._interrupt(lease_id, "drain")
        leftovers = [r.job for r in self._running.values()]
        if leftovers:
            await asyncio.wait(leftovers)
