"""Services reach grpc as generic handlers behind the call pipeline, never as
registered methods (grpc aio waits on a pending request per registered
method for every incoming call)."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from server.api.call import CallInfo
from server.api.interceptor import CallInterceptor
from server.app import GenericHandlersOnly
from server.security.limits import RateLimiter, StreamLimiter
from taskplane.v1 import tasks_pb2_grpc


class RecordingServer:
    def __init__(self) -> None:
        self.generic: list[grpc.GenericRpcHandler] = []
        self.registered: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
        self.registered.append(service)


class NoAuthentication:
    async def authenticate(self, info: CallInfo, metadata: dict[str, str]) -> None:
        """Never called here: no call is made."""


@dataclasses.dataclass(frozen=True)
class Details:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


def _handler(server: RecordingServer, method: str) -> Any:
    found = [generic.service(Details(method)) for generic in server.generic]  # type: ignore[arg-type]
    return next(handler for handler in found if handler is not None)


def test_services_are_generic_handlers_behind_the_pipeline() -> None:
    server = RecordingServer()
    pipeline = CallInterceptor(
        NoAuthentication(), ("/grpc.health.v1.Health/",), RateLimiter(10, 10), StreamLimiter(1)
    )
    adapter = cast(grpc.aio.Server, GenericHandlersOnly(cast(grpc.aio.Server, server), pipeline))
    servicer = tasks_pb2_grpc.TaskServiceServicer()  # type: ignore[abstract]
    tasks_pb2_grpc.add_TaskServiceServicer_to_server(servicer, adapter)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, adapter)

    assert server.registered == []
    create = _handler(server, "/taskplane.v1.TaskService/CreateTask")
    # Wrapped in the pipeline (the servicer's own method is inside it), the
    # same wrapper for every call of the method.
    assert create.unary_unary != servicer.CreateTask
    assert create is _handler(server, "/taskplane.v1.TaskService/CreateTask")
    # Public methods are served as they are.
    check = _handler(server, "/grpc.health.v1.Health/Check")
    assert check.unary_unary == health_servicer.Check
    assert all(generic.service(Details("/x.Y/Z")) is None for generic in server.generic)  # type: ignore[arg-type]
