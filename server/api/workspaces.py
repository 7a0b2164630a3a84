"""WorkspaceService: workspaces and API keys (admin only)."""

from __future__ import annotations

from typing import Any

import grpc

from server.api.call import current_call
from server.api.pagination import Keyset
from server.api.validation import Checker
from server.core import protos
from server.core.clock import now_us
from server.engine.workspaces import WorkspaceCommands
from server.security.authn import ApiKeyAuthenticator
from server.store.workspaces import ApiKeyRecord, WorkspaceRecord
from taskplane.v1 import workspaces_pb2, workspaces_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
ROLES = frozenset(workspaces_pb2.Role.values()) - {workspaces_pb2.ROLE_UNSPECIFIED}


def workspace_to_proto(ws: WorkspaceRecord) -> workspaces_pb2.Workspace:
    return workspaces_pb2.Workspace(
        id=ws.id,
        display_name=ws.display_name,
        parent_workspace_id=ws.parent_workspace_id,
        create_time=protos.timestamp(ws.create_time),
    )


def key_to_proto(key: ApiKeyRecord) -> workspaces_pb2.ApiKey:
    return workspaces_pb2.ApiKey(
        id=key.id,
        workspace_id=key.workspace_id,
        display_name=key.display_name,
        role=key.role,  # type: ignore[arg-type]
        create_time=protos.timestamp(key.create_time),
        expire_time=protos.timestamp(key.expire_time),
        revoke_time=protos.timestamp(key.revoke_time),
    )


class WorkspaceServicer(workspaces_pb2_grpc.WorkspaceServiceServicer):
    def __init__(self, commands: WorkspaceCommands, authenticator: ApiKeyAuthenticator) -> None:
        self._ws = commands
        self._auth = authenticator

    async def CreateWorkspace(
        self, request: workspaces_pb2.CreateWorkspaceRequest, context: Context
    ) -> workspaces_pb2.CreateWorkspaceResponse:
        check = Checker()
        check.text(
            "workspace.display_name", request.workspace.display_name, max_len=128, required=True
        )
        check.done()
        ws, key, secret = await self._ws.create_workspace(
            current_call().context(), request.workspace.display_name
        )
        return workspaces_pb2.CreateWorkspaceResponse(
            workspace=workspace_to_proto(ws), admin_key=key_to_proto(key), admin_key_secret=secret
        )

    async def ListWorkspaces(
        self, request: workspaces_pb2.ListWorkspacesRequest, context: Context
    ) -> workspaces_pb2.ListWorkspacesResponse:
        check = Checker()
        limit = check.page_size("page_size", request.page_size, default=50, cap=500)
        check.done()
        workspace_id = current_call().workspace_id
        keyset = Keyset(request.page_token, workspace_id, "workspaces")
        found, token = keyset.page(
            await self._ws.list_workspaces(workspace_id, after=keyset.position, limit=limit + 1),
            limit,
        )
        return workspaces_pb2.ListWorkspacesResponse(
            workspaces=[workspace_to_proto(ws) for ws in found], next_page_token=token
        )

    async def CreateApiKey(
        self, request: workspaces_pb2.CreateApiKeyRequest, context: Context
    ) -> workspaces_pb2.CreateApiKeyResponse:
        check = Checker()
        spec = request.api_key
        check.text("api_key.display_name", spec.display_name, max_len=128)
        if spec.role not in ROLES:
            check.add(
                "api_key.role", "must be ROLE_ADMIN, ROLE_OPERATOR, ROLE_VIEWER or ROLE_AGENT"
            )
        expire_time = None
        if spec.HasField("expire_time"):
            expire_time = check.future_time("api_key.expire_time", spec.expire_time, now_us())
        check.done()
        record, secret = await self._ws.create_key(
            current_call().context(), spec.display_name, spec.role, expire_time
        )
        return workspaces_pb2.CreateApiKeyResponse(api_key=key_to_proto(record), secret=secret)

    async def ListApiKeys(
        self, request: workspaces_pb2.ListApiKeysRequest, context: Context
    ) -> workspaces_pb2.ListApiKeysResponse:
        check = Checker()
        limit = check.page_size("page_size", request.page_size, default=50, cap=500)
        check.done()
        workspace_id = current_call().workspace_id
        keyset = Keyset(request.page_token, workspace_id, "keys", request.show_inactive)
        listed = await self._ws.list_keys(
            workspace_id,
            active_at=None if request.show_inactive else now_us(),
            after=keyset.position,
            limit=limit + 1,
        )
        found, token = keyset.page(listed, limit)
        return workspaces_pb2.ListApiKeysResponse(
            api_keys=[key_to_proto(k) for k in found], next_page_token=token
        )

    async def RevokeApiKey(
        self, request: workspaces_pb2.RevokeApiKeyRequest, context: Context
    ) -> workspaces_pb2.RevokeApiKeyResponse:
        check = Checker()
        check.resource_id("api_key_id", request.api_key_id)
        check.done()
        record = await self._ws.revoke_key(current_call().context(), request.api_key_id)
        self._auth.forget(record.id)
        return workspaces_pb2.RevokeApiKeyResponse(api_key=key_to_proto(record))
