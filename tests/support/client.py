"""An authenticated set of v1 stubs over one real channel."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from grpc_status import rpc_status

from taskplane.channel import insecure_channel
from taskplane.v1 import (
    agents_pb2,
    agents_pb2_grpc,
    events_pb2_grpc,
    status_pb2_grpc,
    tasks_pb2,
    tasks_pb2_grpc,
    workspaces_pb2_grpc,
)


@dataclasses.dataclass
class Api:
    channel: grpc.aio.Channel
    tasks: tasks_pb2_grpc.TaskServiceAsyncStub
    agents: agents_pb2_grpc.AgentServiceAsyncStub
    events: events_pb2_grpc.EventServiceAsyncStub
    workspaces: workspaces_pb2_grpc.WorkspaceServiceAsyncStub
    status: status_pb2_grpc.StatusServiceAsyncStub

    async def close(self) -> None:
        await self.channel.close()


def connect(address: str, api_key: str | None, **options: Any) -> Api:
    channel = insecure_channel(address, api_key, list(options.items()))
    return Api(
        channel=channel,
        tasks=tasks_pb2_grpc.TaskServiceStub(channel),
        agents=agents_pb2_grpc.AgentServiceStub(channel),
        events=events_pb2_grpc.EventServiceStub(channel),
        workspaces=workspaces_pb2_grpc.WorkspaceServiceStub(channel),
        status=status_pb2_grpc.StatusServiceStub(channel),
    )


def seconds(value: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(value * 1e9))
    return duration


def details_of(error: grpc.aio.AioRpcError) -> list[Any]:
    """The unpacked google.rpc details of a failed call."""
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(error)
    if status is None:
        return []
    found = []
    for detail in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
            error_details_pb2.ResourceInfo,
        ):
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                found.append(message)
    return found


async def register(api: Api, *kinds: str, name: str = "worker", concurrency: int = 10) -> str:
    response = await api.agents.RegisterAgent(
        agents_pb2.RegisterAgentRequest(
            agent=agents_pb2.Agent(
                name=name, capabilities=list(kinds or ("echo",)), max_concurrency=concurrency
            )
        )
    )
    return response.agent.id


async def create(api: Api, kind: str = "echo", **fields: Any) -> tasks_pb2.Task:
    response = await api.tasks.CreateTask(
        tasks_pb2.CreateTaskRequest(task=tasks_pb2.Task(kind=kind, **fields))
    )
    return response.task


async def acquire(
    api: Api, agent_id: str, max_tasks: int = 1, wait: float = 2.0
) -> list[agents_pb2.Lease]:
    response = await api.agents.AcquireTasks(
        agents_pb2.AcquireTasksRequest(agent_id=agent_id, max_tasks=max_tasks, wait=seconds(wait))
    )
    return list(response.leases)


def ref(lease: agents_pb2.Lease) -> agents_pb2.LeaseRef:
    return agents_pb2.LeaseRef(task_id=lease.task.id, lease_id=lease.lease_id)


async def complete_unless_aborted(api: Api, lease: agents_pb2.Lease) -> tasks_pb2.Task | None:
    """Completes a leased task; None when the lease was stale (ABORTED)."""
    try:
        response = await api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref(lease)))
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.ABORTED:
            raise
        return None
    return response.task


async def task_states(api: Api, kind: str) -> dict[str, int]:
    """Task id -> state of every task of `kind`, over all pages."""
    states: dict[str, int] = {}
    request = tasks_pb2.ListTasksRequest(kinds=[kind], page_size=500)
    for _ in range(1000):
        response = await api.tasks.ListTasks(request)
        states.update((task.id, task.state) for task in response.tasks)
        if not response.next_page_token:
            return states
        request.page_token = response.next_page_token
    pytest.fail("ListTasks did not run out of pages")
