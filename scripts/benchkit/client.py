"""Authenticated Taskplane stubs over several channels, and Taskplane
servers as pinned child processes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc

from benchkit.procs import Child, free_port, python_module, wait_for
from taskplane.channel import insecure_channel
from taskplane.v1 import (
    agents_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    tasks_pb2_grpc,
)


@dataclasses.dataclass
class Api:
    channel: grpc.aio.Channel
    tasks: tasks_pb2_grpc.TaskServiceAsyncStub
    agents: agents_pb2_grpc.AgentServiceAsyncStub
    events: events_pb2_grpc.EventServiceAsyncStub


def connect(address: str, api_key: str) -> Api:
    channel = insecure_channel(address, api_key)
    return Api(
        channel=channel,
        tasks=tasks_pb2_grpc.TaskServiceStub(channel),
        agents=agents_pb2_grpc.AgentServiceStub(channel),
        events=events_pb2_grpc.EventServiceStub(channel),
    )


@contextlib.asynccontextmanager
async def channels(address: str, api_key: str, count: int) -> AsyncIterator[list[Api]]:
    apis = [connect(address, api_key) for _ in range(count)]
    try:
        for api in apis:
            await asyncio.wait_for(api.channel.channel_ready(), 10)
        yield apis
    finally:
        for api in apis:
            await api.channel.close()


async def head_sequence(api: Api) -> int:
    response = await api.events.ListEvents(events_pb2.ListEventsRequest(page_size=1))
    return response.head_sequence


@dataclasses.dataclass
class TaskplaneServer:
    child: Child
    address: str
    api_key: str
    data_dir: Path


@contextlib.contextmanager
def taskplane_server(database_url: str = "", **settings: str) -> Iterator[TaskplaneServer]:
    """`python -m server` pinned to the server core, SQLite in a temporary data
    directory unless `database_url` is given, logging at warning level; other
    settings are given by name (`max_streams_per_key="1100"`)."""
    with tempfile.TemporaryDirectory(prefix="taskplane-bench-") as tmp:
        data_dir = Path(tmp)
        address = f"127.0.0.1:{free_port()}"
        env = {
            "TASKPLANE_LISTEN_ADDRESS": address,
            "TASKPLANE_DATA_DIR": str(data_dir),
            "TASKPLANE_DATABASE_URL": database_url,
            "TASKPLANE_LOG_LEVEL": "warning",
            **{f"TASKPLANE_{name.upper()}": value for name, value in settings.items()},
        }
        log_path = data_dir / "server.log"
        log = log_path.open("ab")
        child = Child(
            python_module("server"), env=env, pin_server_core=True, stdout=log, stderr=log
        )
        try:
            key_file = data_dir / "admin.key"

            def key_written() -> bool:
                return key_file.exists() and bool(key_file.read_text().strip())

            wait_for(lambda: child.process.poll() is not None or key_written(), 60, "admin.key")
            if child.process.poll() is not None:
                log.flush()
                tail = log_path.read_text(errors="replace")[-800:]
                raise RuntimeError(f"server exited with {child.process.returncode}: {tail}")
            wait_for(lambda: _listening(address), 30, "the server's port")
            yield TaskplaneServer(child, address, key_file.read_text().strip(), data_dir)
        finally:
            child.stop()
            log.close()


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh database on the PostgreSQL server of `admin_url` (asyncpg DSN),
    dropped afterwards; yields its SQLAlchemy URL."""
    import asyncpg

    name = f"taskplane_bench_{uuid.uuid4().hex[:10]}"
    conn: Any = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
