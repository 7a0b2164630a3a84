"""Every v1 service of the server, with the function that registers it."""

from __future__ import annotations

from server.api.status import StatusServicer
from server.app import ServiceBinding
from server.config import Settings
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


def service_bindings(settings: Settings) -> list[ServiceBinding]:
    return [
        ServiceBinding(
            tasks_pb2.DESCRIPTOR.services_by_name["TaskService"].full_name,
            tasks_pb2_grpc.TaskServiceServicer(),
            tasks_pb2_grpc.add_TaskServiceServicer_to_server,
        ),
        ServiceBinding(
            agents_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
            agents_pb2_grpc.AgentServiceServicer(),
            agents_pb2_grpc.add_AgentServiceServicer_to_server,
        ),
        ServiceBinding(
            events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
            events_pb2_grpc.EventServiceServicer(),
            events_pb2_grpc.add_EventServiceServicer_to_server,
        ),
        ServiceBinding(
            workspaces_pb2.DESCRIPTOR.services_by_name["WorkspaceService"].full_name,
            workspaces_pb2_grpc.WorkspaceServiceServicer(),
            workspaces_pb2_grpc.add_WorkspaceServiceServicer_to_server,
        ),
        ServiceBinding(
            status_pb2.DESCRIPTOR.services_by_name["StatusService"].full_name,
            StatusServicer(),
            status_pb2_grpc.add_StatusServiceServicer_to_server,
        ),
    ]
