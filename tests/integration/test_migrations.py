"""Migrations on each backend: they build the schema `server.store.schema`
declares, and a migration that rebuilds a table keeps its rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.config import Settings
from server.store.database import Database
from server.store.migrate import alembic_config, migrate
from server.store.schema import events, metadata
from tests.conftest import BACKENDS, backend_settings

T = TypeVar("T")


@pytest.fixture(params=BACKENDS)
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    async with backend_settings(request.param, tmp_path) as found:
        yield found


async def _in_transaction(settings: Settings, work: Callable[[sa.Connection], T]) -> T:
    database = Database(settings)
    try:
        return await database.write(work)
    finally:
        await database.dispose()


def _migrate_to(revision: str) -> Callable[[sa.Connection], None]:
    def step(conn: sa.Connection) -> None:
        config = alembic_config(conn)
        if revision == "0002" and MigrationContext.configure(conn).get_current_revision():
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    return step


def _event(sequence: int) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "id": f"evt_{sequence:026d}",
        "workspace_id": "ws_1",
        "type": "task.created",
        "task_id": f"tsk_{sequence}",
        "agent_id": "",
        "workflow_id": "",
        "correlation_id": "c-1",
        "time": 1_700_000_000_000_000 + sequence,
        "body": bytes([sequence % 256]) * 3,
    }


def _event_rows(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(events).order_by(events.c.sequence)).mappings()
    return [dict(row) for row in rows]


def _unique_on_id(conn: sa.Connection) -> bool:
    inspector = sa.inspect(conn)
    unique: list[list[str | None]] = [
        list(c["column_names"]) for c in inspector.get_unique_constraints("events")
    ]
    unique += [list(i["column_names"]) for i in inspector.get_indexes("events") if i["unique"]]
    return ["id"] in unique


async def test_migrations_build_the_declared_schema(settings: Settings) -> None:
    await migrate(settings)

    def differences(conn: sa.Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    assert await _in_transaction(settings, differences) == []


async def test_dropping_the_event_id_index_keeps_every_event(settings: Settings) -> None:
    stored = [_event(sequence) for sequence in (5, 9, 12, 300)]
    await _in_transaction(settings, _migrate_to("0002"))
    await _in_transaction(settings, lambda conn: conn.execute(events.insert(), stored))
    assert await _in_transaction(settings, _unique_on_id)

    await _in_transaction(settings, _migrate_to("head"))
    assert await _in_transaction(settings, _event_rows) == stored
    assert not await _in_transaction(settings, _unique_on_id)
    if settings.database_url == "":
        # The sequence is SQLite's rowid: no separate primary key index.
        rowids = await _in_transaction(
            settings, lambda conn: conn.exec_driver_sql("SELECT rowid FROM events").all()
        )
        assert [row[0] for row in rowids] == [event["sequence"] for event in stored]

    await _in_transaction(settings, _migrate_to("0002"))
    assert await _in_transaction(settings, _event_rows) == stored
    assert await _in_transaction(settings, _unique_on_id)
