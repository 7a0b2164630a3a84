"""The async Taskplane client: one typed method per RPC.

    async with await taskplane.connect("127.0.0.1:50051", api_key=key) as client:
        created = await client.create_task("summarize", input={"url": "..."})
        task = await client.wait_task(created.task.id, timeout_s=60)

Methods return the resource when the response carries only that (a `Task`,
an `Agent`), a `Page` for list calls, and the response message otherwise.
Failures raise one `taskplane.errors.TaskplaneError` subclass per status
code; UNAVAILABLE is retried with backoff (see `taskplane.retry`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from taskplane._invoke import Invoker
from taskplane.channel import TlsConfig, open_channel
from taskplane.retry import RetryPolicy
from taskplane.structs import to_struct
from taskplane.subscription import RECONNECT, Subscription
from taskplane.v1 import (
    agents_pb2,
    agents_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    status_pb2,
    status_pb2_grpc,
    tasks_pb2,
    tasks_pb2_grpc,
    workspaces_pb2,
    workspaces_pb2_grpc,
)

T = TypeVar("T")

_LONG_POLL_MARGIN_S = 5.0
"""Extra deadline of long-poll calls beyond the wait they ask for."""


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call; `next_page_token` is empty on the last page."""

    items: list[T]
    next_page_token: str


class Client:
    """Typed access to every Taskplane RPC over one channel."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.channel = channel
        self.correlation_id = correlation_id
        self._invoke = Invoker(timeout_s, retry or RetryPolicy())
        self._tasks = tasks_pb2_grpc.TaskServiceStub(channel)
        self._agents = agents_pb2_grpc.AgentServiceStub(channel)
        self._events = events_pb2_grpc.EventServiceStub(channel)
        self._workspaces = workspaces_pb2_grpc.WorkspaceServiceStub(channel)
        self._status = status_pb2_grpc.StatusServiceStub(channel)

    def with_options(
        self,
        *,
        timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        correlation_id: str | None = None,
    ) -> Client:
        """A client on the same channel with other defaults, e.g. a shorter
        deadline for one call: `await client.with_options(timeout_s=2).get_task(id)`."""
        return Client(
            self.channel,
            timeout_s=self._invoke.timeout_s if timeout_s is None else timeout_s,
            retry=retry or self._invoke.retry,
            correlation_id=correlation_id or self.correlation_id,
        )

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(
        self,
        method: Callable[..., Awaitable[T]],
        request: Any,
        name: str,
        timeout_s: float | None = None,
    ) -> T:
        return await self._invoke.unary(
            method, request, name=name, timeout_s=timeout_s, correlation_id=self.correlation_id
        )

    # Tasks

    async def create_task(
        self,
        kind: str,
        input: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        initial_backoff_s: float | None = None,
        schedule_to_start_timeout_s: float | None = None,
        run_timeout_s: float | None = None,
        heartbeat_timeout_s: float | None = None,
        request_id: str | None = None,
    ) -> tasks_pb2.CreateTaskResponse:
        """Creates a task. `request_id` makes the call idempotent; one is
        generated when absent, so retries after UNAVAILABLE cannot duplicate."""
        task = tasks_pb2.Task(kind=kind, input=to_struct(input), priority=priority)
        task.labels.update(labels or {})
        if max_attempts is not None:
            task.retry_policy.max_attempts = max_attempts
        if initial_backoff_s is not None:
            task.retry_policy.initial_backoff.CopyFrom(_duration(initial_backoff_s))
        for field, value in (
            ("schedule_to_start", schedule_to_start_timeout_s),
            ("run", run_timeout_s),
            ("heartbeat", heartbeat_timeout_s),
        ):
            if value is not None:
                getattr(task.timeouts, field).CopyFrom(_duration(value))
        request = tasks_pb2.CreateTaskRequest(
            task=task, request_id=request_id or f"sdk-{uuid.uuid4().hex}"
        )
        return await self._call(self._tasks.CreateTask, request, "TaskService/CreateTask")

    async def get_task(self, task_id: str) -> tasks_pb2.Task:
        request = tasks_pb2.GetTaskRequest(task_id=task_id)
        response = await self._call(self._tasks.GetTask, request, "TaskService/GetTask")
        return response.task

    async def list_tasks(
        self,
        *,
        states: Iterable[tasks_pb2.TaskState.ValueType] = (),
        kinds: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[tasks_pb2.Task]:
        request = tasks_pb2.ListTasksRequest(
            states=list(states),
            kinds=list(kinds),
            labels=dict(labels or {}),
            page_size=page_size,
            page_token=page_token,
        )
        response = await self._call(self._tasks.ListTasks, request, "TaskService/ListTasks")
        return Page(list(response.tasks), response.next_page_token)

    async def iter_tasks(
        self,
        *,
        states: Iterable[tasks_pb2.TaskState.ValueType] = (),
        kinds: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
    ) -> AsyncIterator[tasks_pb2.Task]:
        """Every task matching the filters of `list_tasks`, page after page."""
        states, kinds = list(states), list(kinds)
        token = ""
        while True:
            page = await self.list_tasks(
                states=states, kinds=kinds, labels=labels, page_size=page_size, page_token=token
            )
            for task in page.items:
                yield task
            token = page.next_page_token
            if not token:
                return

    async def cancel_task(self, task_id: str, reason: str = "") -> tasks_pb2.Task:
        request = tasks_pb2.CancelTaskRequest(task_id=task_id, reason=reason)
        response = await self._call(self._tasks.CancelTask, request, "TaskService/CancelTask")
        return response.task

    async def wait_task(self, task_id: str, timeout_s: float = 30.0) -> tasks_pb2.WaitTaskResponse:
        """Waits until the task is terminal or `timeout_s` passed (`done` tells)."""
        request = tasks_pb2.WaitTaskRequest(task_id=task_id, timeout=_duration(timeout_s))
        return await self._call(
            self._tasks.WaitTask,
            request,
            "TaskService/WaitTask",
            timeout_s=timeout_s + _LONG_POLL_MARGIN_S,
        )

    async def requeue_task(self, task_id: str, extra_attempts: int = 0) -> tasks_pb2.Task:
        request = tasks_pb2.RequeueTaskRequest(task_id=task_id, extra_attempts=extra_attempts)
        response = await self._call(self._tasks.RequeueTask, request, "TaskService/RequeueTask")
        return response.task

    # Agents

    async def register_agent(
        self,
        name: str,
        capabilities: Sequence[str],
        *,
        max_concurrency: int = 1,
        version: str = "",
        description: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> agents_pb2.Agent:
        agent = agents_pb2.Agent(
            name=name,
            capabilities=list(capabilities),
            max_concurrency=max_concurrency,
            version=version,
            description=description,
            labels=dict(labels or {}),
        )
        request = agents_pb2.RegisterAgentRequest(agent=agent)
        response = await self._call(
            self._agents.RegisterAgent, request, "AgentService/RegisterAgent"
        )
        return response.agent

    async def get_agent(self, agent_id: str) -> agents_pb2.Agent:
        request = agents_pb2.GetAgentRequest(agent_id=agent_id)
        response = await self._call(self._agents.GetAgent, request, "AgentService/GetAgent")
        return response.agent

    async def list_agents(
        self,
        *,
        status: agents_pb2.AgentStatus.ValueType = agents_pb2.AGENT_STATUS_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[agents_pb2.Agent]:
        request = agents_pb2.ListAgentsRequest(
            status=status, page_size=page_size, page_token=page_token
        )
        response = await self._call(self._agents.ListAgents, request, "AgentService/ListAgents")
        return Page(list(response.agents), response.next_page_token)

    async def acquire_tasks(
        self,
        agent_id: str,
        *,
        max_tasks: int = 1,
        wait_s: float = 0.0,
        kinds: Sequence[str] = (),
    ) -> list[agents_pb2.Lease]:
        """Leases up to `max_tasks` tasks, waiting up to `wait_s` for work."""
        request = agents_pb2.AcquireTasksRequest(
            agent_id=agent_id, max_tasks=max_tasks, kinds=list(kinds)
        )
        if wait_s > 0:
            request.wait.CopyFrom(_duration(wait_s))
        response = await self._call(
            self._agents.AcquireTasks,
            request,
            "AgentService/AcquireTasks",
            timeout_s=wait_s + _LONG_POLL_MARGIN_S,
        )
        return list(response.leases)

    async def heartbeat(
        self, agent_id: str, leases: Sequence[agents_pb2.LeaseRef] = ()
    ) -> list[agents_pb2.LeaseUpdate]:
        request = agents_pb2.HeartbeatRequest(agent_id=agent_id, leases=list(leases))
        response = await self._call(self._agents.Heartbeat, request, "AgentService/Heartbeat")
        return list(response.leases)

    async def report_events(
        self, lease: agents_pb2.LeaseRef, reports: Sequence[agents_pb2.AgentReport]
    ) -> list[int]:
        """Appends agent.* events under a lease; returns their sequences."""
        request = agents_pb2.ReportEventsRequest(lease=lease, reports=list(reports))
        response = await self._call(self._agents.ReportEvents, request, "AgentService/ReportEvents")
        return list(response.sequences)

    async def complete_task(
        self, lease: agents_pb2.LeaseRef, result: Mapping[str, Any] | None = None
    ) -> tasks_pb2.Task:
        request = agents_pb2.CompleteTaskRequest(lease=lease, result=to_struct(result))
        response = await self._call(self._agents.CompleteTask, request, "AgentService/CompleteTask")
        return response.task

    async def fail_task(
        self,
        lease: agents_pb2.LeaseRef,
        message: str,
        *,
        retryable: bool = False,
        code: str = "handler_error",
        details: Mapping[str, Any] | None = None,
    ) -> tasks_pb2.Task:
        error = tasks_pb2.TaskError(
            code=code, message=message, retryable=retryable, details=to_struct(details)
        )
        request = agents_pb2.FailTaskRequest(lease=lease, error=error)
        response = await self._call(self._agents.FailTask, request, "AgentService/FailTask")
        return response.task

    # Events

    async def list_events(
        self,
        *,
        task_id: str = "",
        agent_id: str = "",
        correlation_id: str = "",
        types: Sequence[str] = (),
        after_sequence: int = 0,
        page_size: int = 0,
        page_token: str = "",
    ) -> events_pb2.ListEventsResponse:
        request = events_pb2.ListEventsRequest(
            filter=events_pb2.EventFilter(
                task_id=task_id,
                agent_id=agent_id,
                correlation_id=correlation_id,
                types=list(types),
            ),
            after_sequence=after_sequence,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call(self._events.ListEvents, request, "EventService/ListEvents")

    def subscribe(
        self,
        *,
        task_id: str = "",
        agent_id: str = "",
        correlation_id: str = "",
        types: Sequence[str] = (),
        after_sequence: int | None = None,
        from_now: bool = False,
        max_batch_size: int = 0,
        heartbeat_s: float | None = None,
        reconnect: RetryPolicy = RECONNECT,
    ) -> Subscription:
        """Events matching the filter, resuming across disconnects.

        Starts after `after_sequence`, else at the head of the log when
        `from_now`, else at the beginning. Iterate with `async for`; the
        iterator ends when the server ends the subscription (a task's
        subscription ends once the task is terminal).
        """
        event_filter = events_pb2.EventFilter(
            task_id=task_id, agent_id=agent_id, correlation_id=correlation_id, types=list(types)
        )
        return Subscription(
            self._events,
            event_filter,
            after_sequence=after_sequence,
            from_now=from_now,
            max_batch_size=max_batch_size,
            heartbeat_s=heartbeat_s,
            reconnect=reconnect,
            correlation_id=self.correlation_id,
        )

    # Workspaces and keys

    async def create_workspace(self, display_name: str) -> workspaces_pb2.CreateWorkspaceResponse:
        request = workspaces_pb2.CreateWorkspaceRequest(
            workspace=workspaces_pb2.Workspace(display_name=display_name)
        )
        return await self._call(
            self._workspaces.CreateWorkspace, request, "WorkspaceService/CreateWorkspace"
        )

    async def list_workspaces(
        self, *, page_size: int = 0, page_token: str = ""
    ) -> Page[workspaces_pb2.Workspace]:
        request = workspaces_pb2.ListWorkspacesRequest(page_size=page_size, page_token=page_token)
        response = await self._call(
            self._workspaces.ListWorkspaces, request, "WorkspaceService/ListWorkspaces"
        )
        return Page(list(response.workspaces), response.next_page_token)

    async def create_api_key(
        self,
        role: workspaces_pb2.Role.ValueType,
        display_name: str = "",
        *,
        expire_time: timestamp_pb2.Timestamp | None = None,
    ) -> workspaces_pb2.CreateApiKeyResponse:
        """Creates a key; the response's `secret` is shown this once."""
        key = workspaces_pb2.ApiKey(role=role, display_name=display_name)
        if expire_time is not None:
            key.expire_time.CopyFrom(expire_time)
        request = workspaces_pb2.CreateApiKeyRequest(api_key=key)
        return await self._call(
            self._workspaces.CreateApiKey, request, "WorkspaceService/CreateApiKey"
        )

    async def list_api_keys(
        self, *, show_inactive: bool = False, page_size: int = 0, page_token: str = ""
    ) -> Page[workspaces_pb2.ApiKey]:
        request = workspaces_pb2.ListApiKeysRequest(
            show_inactive=show_inactive, page_size=page_size, page_token=page_token
        )
        response = await self._call(
            self._workspaces.ListApiKeys, request, "WorkspaceService/ListApiKeys"
        )
        return Page(list(response.api_keys), response.next_page_token)

    async def revoke_api_key(self, api_key_id: str) -> workspaces_pb2.ApiKey:
        request = workspaces_pb2.RevokeApiKeyRequest(api_key_id=api_key_id)
        response = await self._call(
            self._workspaces.RevokeApiKey, request, "WorkspaceService/RevokeApiKey"
        )
        return response.api_key

    # Status

    async def get_status(self) -> status_pb2.GetStatusResponse:
        return await self._call(
            self._status.GetStatus, status_pb2.GetStatusRequest(), "StatusService/GetStatus"
        )


async def connect(
    address: str,
    *,
    api_key: str | None = None,
    tls: bool | TlsConfig = False,
    timeout_s: float = 30.0,
    retry: RetryPolicy | None = None,
    correlation_id: str | None = None,
    tracing: bool = True,
    tracer_provider: Any = None,
    options: Sequence[tuple[str, Any]] = (),
) -> Client:
    """A client for the server at `address` ("host:port").

    `tls=True` uses the system roots; a `TlsConfig` sets custom roots and a
    client certificate for mTLS. `tracing` adds OpenTelemetry client spans and
    W3C trace context when `opentelemetry-instrumentation-grpc` is installed,
    on `tracer_provider` (an OpenTelemetry `TracerProvider`) or the global one.
    """
    channel = open_channel(
        address,
        api_key=api_key,
        tls=tls,
        tracing=tracing,
        tracer_provider=tracer_provider,
        options=options,
    )
    return Client(channel, timeout_s=timeout_s, retry=retry, correlation_id=correlation_id)
