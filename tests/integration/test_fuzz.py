"""Fuzzing every RPC with arbitrary and mutated requests: no call may answer
INTERNAL or UNKNOWN, and the server stays healthy."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import TaskplaneServer
from taskplane.v1 import agents_pb2, events_pb2, status_pb2, tasks_pb2, workspaces_pb2
from tests.conftest import server_settings
from tests.support.fuzz import payloads
from tests.support.servers import admin_key, running_server

pytestmark = pytest.mark.slow

METHODS = [
    (f"/{service.full_name}/{method.name}", method)
    for module in (tasks_pb2, agents_pb2, events_pb2, workspaces_pb2, status_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
BATCH = 100
EXAMPLES = 100  # 100 x 100 = 10,000 requests
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
codes: collections.Counter[str] = collections.Counter()
failures: list[tuple[str, grpc.StatusCode, str, bytes]] = []


@pytest.fixture(scope="module")
async def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TaskplaneServer]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    async with running_server(server_settings(data_dir)) as server:
        yield server


async def _call(
    channel: grpc.aio.Channel, key: str, method: str, streaming: bool, body: bytes
) -> grpc.StatusCode:
    """Sends raw bytes; returns the status code of the call."""
    metadata = (("authorization", f"Bearer {key}"),)
    try:
        if streaming:
            stream: Any = channel.unary_stream(method)
            async for _ in stream(body, metadata=metadata, timeout=0.15):
                pass
        else:
            unary: Any = channel.unary_unary(method)
            await unary(body, metadata=metadata, timeout=0.3)
    except grpc.aio.AioRpcError as error:
        failures.append((method, error.code(), error.details() or "", body[:80]))
        return error.code()
    return grpc.StatusCode.OK


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_requests_never_get_internal_or_unknown(
    fuzz_server: TaskplaneServer, data: st.DataObject
) -> None:
    key = admin_key(fuzz_server.settings.data_dir)
    batch = [
        (method, descriptor, data.draw(payloads(descriptor.input_type)))
        for method, descriptor in data.draw(
            st.lists(st.sampled_from(METHODS), min_size=BATCH, max_size=BATCH)
        )
    ]
    async with grpc.aio.insecure_channel(fuzz_server.address) as channel:
        results = await asyncio.gather(
            *(
                _call(channel, key, method, descriptor.server_streaming, body)
                for method, descriptor, body in batch
            )
        )
    codes.update(code.name for code in results)
    forbidden = [failure for failure in failures if failure[1] in FORBIDDEN]
    assert forbidden == []


async def test_server_is_healthy_after_fuzzing(
    fuzz_server: TaskplaneServer, tmp_path: Path
) -> None:
    assert sum(codes.values()) >= BATCH * EXAMPLES, codes
    print("fuzz status codes:", dict(codes))
    async with grpc.aio.insecure_channel(fuzz_server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = await health.Check(health_pb2.HealthCheckRequest(service="readiness"))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
