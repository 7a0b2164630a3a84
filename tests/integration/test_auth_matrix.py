"""Every RPC against every kind of bad credential, the wrong role, and another
workspace's resources: generated from the permission table."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.security.permissions import PERMISSIONS
from taskplane.v1 import agents_pb2, events_pb2, tasks_pb2, workspaces_pb2
from tests.conftest import Deployment
from tests.support.client import Api, acquire, create, register

ROLES = {
    workspaces_pb2.ROLE_ADMIN: "admin",
    workspaces_pb2.ROLE_OPERATOR: "operator",
    workspaces_pb2.ROLE_VIEWER: "viewer",
    workspaces_pb2.ROLE_AGENT: "agent",
}


@dataclasses.dataclass
class World:
    keys: dict[str, str]
    task_id: str
    agent_id: str
    lease: agents_pb2.LeaseRef
    api_key_id: str


async def _key(
    api: Api, role: int, expire_time: timestamp_pb2.Timestamp | None = None
) -> tuple[str, str]:
    response = await api.workspaces.CreateApiKey(
        workspaces_pb2.CreateApiKeyRequest(
            api_key=workspaces_pb2.ApiKey(role=role, expire_time=expire_time)  # type: ignore[arg-type]
        )
    )
    return response.api_key.id, response.secret


@pytest.fixture
async def world(api: Api) -> World:
    keys = {name: (await _key(api, role))[1] for role, name in ROLES.items()}
    revoked_id, keys["revoked"] = await _key(api, workspaces_pb2.ROLE_ADMIN)
    await api.workspaces.RevokeApiKey(workspaces_pb2.RevokeApiKeyRequest(api_key_id=revoked_id))
    soon = timestamp_pb2.Timestamp()
    soon.FromNanoseconds(time.time_ns() + 300_000_000)
    _, keys["expired"] = await _key(api, workspaces_pb2.ROLE_ADMIN, soon)
    other = await api.workspaces.CreateWorkspace(
        workspaces_pb2.CreateWorkspaceRequest(workspace=workspaces_pb2.Workspace(display_name="b"))
    )
    keys["other_workspace"] = other.admin_key_secret
    kind = f"matrix-{time.time_ns()}"
    agent_id = await register(api, kind)
    await create(api, kind)
    [lease] = await acquire(api, agent_id)
    task = await create(api, kind)
    await asyncio.sleep(0.4)  # let the expiring key expire
    return World(
        keys=keys,
        task_id=task.id,
        agent_id=agent_id,
        lease=agents_pb2.LeaseRef(task_id=lease.task.id, lease_id=lease.lease_id),
        api_key_id=revoked_id,
    )


def foreign_request(method: str, world: World) -> Message | None:
    """A request naming a resource of the first workspace, or None when the
    RPC names no resource."""
    name = method.rsplit("/", 1)[1]
    requests: dict[str, Message] = {
        "GetTask": tasks_pb2.GetTaskRequest(task_id=world.task_id),
        "CancelTask": tasks_pb2.CancelTaskRequest(task_id=world.task_id),
        "WaitTask": tasks_pb2.WaitTaskRequest(task_id=world.task_id),
        "RequeueTask": tasks_pb2.RequeueTaskRequest(task_id=world.task_id),
        "GetAgent": agents_pb2.GetAgentRequest(agent_id=world.agent_id),
        "AcquireTasks": agents_pb2.AcquireTasksRequest(agent_id=world.agent_id),
        "Heartbeat": agents_pb2.HeartbeatRequest(agent_id=world.agent_id),
        "ReportEvents": agents_pb2.ReportEventsRequest(
            lease=world.lease,
            reports=[agents_pb2.AgentReport(message=agents_pb2.AgentMessage(content="x"))],
        ),
        "CompleteTask": agents_pb2.CompleteTaskRequest(lease=world.lease),
        "FailTask": agents_pb2.FailTaskRequest(
            lease=world.lease, error=tasks_pb2.TaskError(code="x")
        ),
        "RevokeApiKey": workspaces_pb2.RevokeApiKeyRequest(api_key_id=world.api_key_id),
        "Subscribe": events_pb2.SubscribeRequest(
            filter=events_pb2.EventFilter(task_id=world.task_id)
        ),
    }
    return requests.get(name)


async def call(address: str, method: str, key: str | None, body: bytes) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {key}"),) if key is not None else ()
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            if method.endswith("/Subscribe"):
                stream: Any = channel.unary_stream(method)
                await stream(body, metadata=metadata, timeout=2).read()
            else:
                unary: Any = channel.unary_unary(method)
                await unary(body, metadata=metadata, timeout=2)
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", sorted(PERMISSIONS))
async def test_rpc_against_every_credential(
    method: str, world: World, deployment: Deployment
) -> None:
    address = deployment.address
    bad_key = "key_00000000000000000000000000." + "x" * 43
    for label, key in [
        ("no key", None),
        ("malformed key", "not-a-key"),
        ("unknown key", bad_key),
        ("revoked key", world.keys["revoked"]),
        ("expired key", world.keys["expired"]),
    ]:
        assert await call(address, method, key, b"") == grpc.StatusCode.UNAUTHENTICATED, label
    for role, name in ROLES.items():
        if role not in PERMISSIONS[method]:
            code = await call(address, method, world.keys[name], b"")
            assert code == grpc.StatusCode.PERMISSION_DENIED, name
    request = foreign_request(method, world)
    if request is not None:
        code = await call(
            address, method, world.keys["other_workspace"], request.SerializeToString()
        )
        assert code == grpc.StatusCode.NOT_FOUND


async def test_health_answers_without_a_key(deployment: Deployment) -> None:
    async with grpc.aio.insecure_channel(deployment.address) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert response.status == health_pb2.HealthCheckResponse.SERVING
