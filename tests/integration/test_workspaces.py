"""WorkspaceService: workspaces and API keys."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.protobuf import timestamp_pb2

from taskplane.v1 import tasks_pb2, workspaces_pb2
from tests.conftest import Deployment
from tests.support.client import Api


async def test_keys_are_listed_without_secrets_and_revocation_hides_them(api: Api) -> None:
    created = await api.workspaces.CreateApiKey(
        workspaces_pb2.CreateApiKeyRequest(
            api_key=workspaces_pb2.ApiKey(display_name="ci", role=workspaces_pb2.ROLE_OPERATOR)
        )
    )
    assert created.secret.startswith(created.api_key.id + ".")
    listed = await api.workspaces.ListApiKeys(workspaces_pb2.ListApiKeysRequest(page_size=500))
    assert created.api_key.id in {key.id for key in listed.api_keys}
    assert created.secret not in str(listed)
    await api.workspaces.RevokeApiKey(
        workspaces_pb2.RevokeApiKeyRequest(api_key_id=created.api_key.id)
    )
    active = await api.workspaces.ListApiKeys(workspaces_pb2.ListApiKeysRequest(page_size=500))
    assert created.api_key.id not in {key.id for key in active.api_keys}
    every = await api.workspaces.ListApiKeys(
        workspaces_pb2.ListApiKeysRequest(page_size=500, show_inactive=True)
    )
    [revoked] = [key for key in every.api_keys if key.id == created.api_key.id]
    assert revoked.HasField("revoke_time")


async def test_expired_key_is_refused(api: Api, deployment: Deployment) -> None:
    soon = timestamp_pb2.Timestamp()
    soon.FromNanoseconds(time.time_ns() + 300_000_000)
    created = await api.workspaces.CreateApiKey(
        workspaces_pb2.CreateApiKeyRequest(
            api_key=workspaces_pb2.ApiKey(role=workspaces_pb2.ROLE_VIEWER, expire_time=soon)
        )
    )
    client = deployment.client(created.secret)
    await client.tasks.ListTasks(tasks_pb2.ListTasksRequest(page_size=1))
    await asyncio.sleep(0.4)
    client = deployment.client(created.secret)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.tasks.ListTasks(tasks_pb2.ListTasksRequest(page_size=1))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await client.close()


async def test_key_with_a_past_expiry_or_no_role_is_invalid(api: Api) -> None:
    past = timestamp_pb2.Timestamp(seconds=1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.workspaces.CreateApiKey(
            workspaces_pb2.CreateApiKeyRequest(api_key=workspaces_pb2.ApiKey(expire_time=past))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_created_workspaces_are_listed_by_their_parent(
    api: Api, deployment: Deployment
) -> None:
    created = await api.workspaces.CreateWorkspace(
        workspaces_pb2.CreateWorkspaceRequest(
            workspace=workspaces_pb2.Workspace(display_name="team b")
        )
    )
    assert created.admin_key.role == workspaces_pb2.ROLE_ADMIN
    mine = await api.workspaces.ListWorkspaces(workspaces_pb2.ListWorkspacesRequest())
    assert created.workspace.id in {ws.id for ws in mine.workspaces}
    child = deployment.client(created.admin_key_secret)
    theirs = await child.workspaces.ListWorkspaces(workspaces_pb2.ListWorkspacesRequest())
    assert [ws.id for ws in theirs.workspaces] == [created.workspace.id]
    await child.close()
