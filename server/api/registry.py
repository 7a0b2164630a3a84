"""Every v1 service of the server, wired to the engine."""

from __future__ import annotations

from server.api import events
from server.api.agents import AgentServicer
from server.api.status import StatusServicer
from server.api.tasks import TaskServicer
from server.api.workspaces import WorkspaceServicer
from server.app_types import ServiceBinding
from server.engine.agents import AgentCommands
from server.engine.runtime import Runtime
from server.engine.tasks import TaskCommands
from server.engine.workspaces import WorkspaceCommands
from server.security.authn import ApiKeyAuthenticator
from server.security.screening import Screener
from taskplane.v1 import (
    agents_pb2_grpc,
    status_pb2_grpc,
    tasks_pb2_grpc,
    workspaces_pb2_grpc,
)


def service_bindings(
    runtime: Runtime, authenticator: ApiKeyAuthenticator, screener: Screener
) -> list[ServiceBinding]:
    return [
        ServiceBinding(
            "taskplane.v1.TaskService",
            TaskServicer(TaskCommands(runtime), screener),
            tasks_pb2_grpc.add_TaskServiceServicer_to_server,
        ),
        ServiceBinding(
            "taskplane.v1.AgentService",
            AgentServicer(AgentCommands(runtime), screener),
            agents_pb2_grpc.add_AgentServiceServicer_to_server,
        ),
        ServiceBinding(
            "taskplane.v1.EventService",
            events.EventServicer(runtime),
            events.add_to_server,
        ),
        ServiceBinding(
            "taskplane.v1.WorkspaceService",
            WorkspaceServicer(WorkspaceCommands(runtime), authenticator),
            workspaces_pb2_grpc.add_WorkspaceServiceServicer_to_server,
        ),
        ServiceBinding(
            "taskplane.v1.StatusService",
            StatusServicer(runtime),
            status_pb2_grpc.add_StatusServiceServicer_to_server,
        ),
    ]
