"""Fixtures: one real server per storage backend for the whole session, and
authenticated clients over real channels."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import taskplane
from server.app import TaskplaneServer
from server.config import Settings
from tests.support.client import Api, connect
from tests.support.servers import (
    admin_key,
    fresh_postgres_database,
    postgres_url,
    running_server,
)

BACKENDS = ["sqlite", "postgres"]


@dataclasses.dataclass
class Deployment:
    """A running server and what a test needs to reach it."""

    backend: str
    server: TaskplaneServer
    settings: Settings
    admin_key: str

    @property
    def address(self) -> str:
        return self.server.address

    def client(self, api_key: str | None = None) -> Api:
        return connect(self.address, self.admin_key if api_key is None else api_key)


def server_settings(data_dir: Path, database_url: str = "", **overrides: object) -> Settings:
    return Settings(
        listen_address="127.0.0.1:0",
        data_dir=data_dir,
        database_url=database_url,
        reaper_interval_s=0.1,
        shutdown_grace_s=2.0,
        **overrides,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def backend_settings(backend: str, data_dir: Path) -> AsyncIterator[Settings]:
    """Server settings on a backend: SQLite in `data_dir`, or a fresh PostgreSQL
    database (the test is skipped when none is configured)."""
    if backend == "postgres":
        if postgres_url() is None:
            pytest.skip("set TASKPLANE_TEST_DATABASE_URL to run against PostgreSQL")
        async with fresh_postgres_database() as url:
            yield server_settings(data_dir, url)
        return
    yield server_settings(data_dir)


@pytest.fixture(scope="session", params=BACKENDS)
async def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    async with (
        backend_settings(backend, data_dir) as settings,
        running_server(settings) as server,
    ):
        yield Deployment(backend, server, settings, admin_key(data_dir))


@pytest.fixture
async def client(deployment: Deployment) -> AsyncIterator[taskplane.Client]:
    """The SDK's client with the admin key."""
    async with await taskplane.connect(deployment.address, api_key=deployment.admin_key) as c:
        yield c


@pytest.fixture
async def api(deployment: Deployment) -> AsyncIterator[Api]:
    client = deployment.client()
    yield client
    await client.close()
