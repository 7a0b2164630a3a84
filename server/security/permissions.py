"""Which role may call which RPC: the one permission table."""

from __future__ import annotations

from taskplane.v1 import workspaces_pb2

ADMIN = workspaces_pb2.ROLE_ADMIN
OPERATOR = workspaces_pb2.ROLE_OPERATOR
VIEWER = workspaces_pb2.ROLE_VIEWER
AGENT = workspaces_pb2.ROLE_AGENT

_READERS = frozenset({ADMIN, OPERATOR, VIEWER})
_OPERATORS = frozenset({ADMIN, OPERATOR})
_AGENTS = frozenset({ADMIN, AGENT})
_ADMINS = frozenset({ADMIN})
_EVERYONE = frozenset({ADMIN, OPERATOR, VIEWER, AGENT})

PERMISSIONS: dict[str, frozenset[int]] = {
    "/taskplane.v1.TaskService/CreateTask": _OPERATORS,
    "/taskplane.v1.TaskService/GetTask": _EVERYONE,
    "/taskplane.v1.TaskService/ListTasks": _READERS,
    "/taskplane.v1.TaskService/CancelTask": _OPERATORS,
    "/taskplane.v1.TaskService/WaitTask": _READERS,
    "/taskplane.v1.TaskService/RequeueTask": _OPERATORS,
    "/taskplane.v1.AgentService/RegisterAgent": _AGENTS,
    "/taskplane.v1.AgentService/GetAgent": _EVERYONE,
    "/taskplane.v1.AgentService/ListAgents": _READERS,
    "/taskplane.v1.AgentService/AcquireTasks": _AGENTS,
    "/taskplane.v1.AgentService/Heartbeat": _AGENTS,
    "/taskplane.v1.AgentService/ReportEvents": _AGENTS,
    "/taskplane.v1.AgentService/CompleteTask": _AGENTS,
    "/taskplane.v1.AgentService/FailTask": _AGENTS,
    "/taskplane.v1.EventService/Subscribe": _READERS,
    "/taskplane.v1.EventService/ListEvents": _READERS,
    "/taskplane.v1.WorkspaceService/CreateWorkspace": _ADMINS,
    "/taskplane.v1.WorkspaceService/ListWorkspaces": _ADMINS,
    "/taskplane.v1.WorkspaceService/CreateApiKey": _ADMINS,
    "/taskplane.v1.WorkspaceService/ListApiKeys": _ADMINS,
    "/taskplane.v1.WorkspaceService/RevokeApiKey": _ADMINS,
    "/taskplane.v1.StatusService/GetStatus": _EVERYONE,
}


def allowed(method: str, role: int) -> bool:
    """Unknown methods are allowed to nobody."""
    return role in PERMISSIONS.get(method, frozenset())
