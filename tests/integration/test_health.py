"""grpc.health.v1 and reflection on a real server."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import Deployment

SERVICES = [
    "taskplane.v1.TaskService",
    "taskplane.v1.AgentService",
    "taskplane.v1.EventService",
    "taskplane.v1.WorkspaceService",
    "taskplane.v1.StatusService",
]
SERVING = health_pb2.HealthCheckResponse.SERVING


async def test_check_answers_serving_without_credentials(deployment: Deployment) -> None:
    async with grpc.aio.insecure_channel(deployment.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ["", "liveness", "readiness", *SERVICES]:
            response = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert response.status == SERVING, name


async def test_check_of_unknown_service_is_not_found(deployment: Deployment) -> None:
    async with grpc.aio.insecure_channel(deployment.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_watch_streams_the_current_status(deployment: Deployment) -> None:
    async with grpc.aio.insecure_channel(deployment.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        call = health.Watch(health_pb2.HealthCheckRequest(service="readiness"))
        first = await asyncio.wait_for(call.read(), 5)
        assert first.status == SERVING
        call.cancel()


async def test_reflection_lists_every_service(deployment: Deployment) -> None:
    async with grpc.aio.insecure_channel(deployment.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        call = stub.ServerReflectionInfo(iter([request]))
        names = set()
        async for response in call:
            names |= {service.name for service in response.list_services_response.service}
        assert set(SERVICES) | {"grpc.health.v1.Health"} <= names
