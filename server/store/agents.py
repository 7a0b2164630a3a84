"""Agent repository. Every query is scoped to a workspace."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from server.core.model import Agent
from server.store import driver
from server.store.driver import sqlite_of
from server.store.schema import agents


def _from_row(row: Mapping[str, Any] | sa.RowMapping) -> Agent:
    return Agent(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        version=row["version"],
        description=row["description"],
        capabilities=json.loads(row["capabilities"]),
        max_concurrency=row["max_concurrency"],
        labels=json.loads(row["labels"]),
        request_id=row["request_id"],
        create_time=row["create_time"],
        last_seen_time=row["last_seen_time"],
    )


_COLUMNS = tuple(column.name for column in agents.columns)
_GET_SQL = driver.select("agents", _COLUMNS, "workspace_id = ? AND id = ?")
_TOUCH_SQL = driver.update("agents", ["last_seen_time"], "workspace_id = ? AND id = ?")


class AgentRepository:
    def __init__(self, *, sqlite: bool = False) -> None:
        # The hot statements go straight to the SQLite driver.
        self._sqlite = sqlite

    def insert(self, conn: Connection, agent: Agent) -> None:
        conn.execute(
            agents.insert().values(
                id=agent.id,
                workspace_id=agent.workspace_id,
                name=agent.name,
                version=agent.version,
                description=agent.description,
                capabilities=json.dumps(agent.capabilities),
                max_concurrency=agent.max_concurrency,
                labels=json.dumps(agent.labels, sort_keys=True),
                request_id=agent.request_id,
                create_time=agent.create_time,
                last_seen_time=agent.last_seen_time,
            )
        )

    def get(self, conn: Connection, workspace_id: str, agent_id: str) -> Agent | None:
        if self._sqlite:
            found = sqlite_of(conn).execute(_GET_SQL, (workspace_id, agent_id)).fetchone()
            return _from_row(dict(zip(_COLUMNS, found, strict=True))) if found else None
        query = sa.select(agents).where(
            agents.c.workspace_id == workspace_id, agents.c.id == agent_id
        )
        row = (conn.execute(query)).mappings().first()
        return _from_row(row) if row else None

    def get_by_request_id(
        self, conn: Connection, workspace_id: str, request_id: str
    ) -> Agent | None:
        query = sa.select(agents).where(
            agents.c.workspace_id == workspace_id, agents.c.request_id == request_id
        )
        row = (conn.execute(query)).mappings().first()
        return _from_row(row) if row else None

    def touch(self, conn: Connection, workspace_id: str, agent_id: str, now: int) -> bool:
        if self._sqlite:
            cursor = sqlite_of(conn).execute(_TOUCH_SQL, (now, workspace_id, agent_id))
            return bool(cursor.rowcount)
        result = conn.execute(
            agents.update()
            .where(agents.c.workspace_id == workspace_id, agents.c.id == agent_id)
            .values(last_seen_time=now)
        )
        return bool(result.rowcount)

    def list(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        after: tuple[int, str] | None,
        limit: int,
        seen_since: int | None = None,
        seen_before: int | None = None,
    ) -> list[Agent]:
        """Oldest registration first; `after` is the (create_time, id) of the last one seen."""
        query: sa.Select[Any] = sa.select(agents).where(agents.c.workspace_id == workspace_id)
        if after is not None:
            query = query.where(
                sa.tuple_(agents.c.create_time, agents.c.id) > sa.tuple_(*map(sa.literal, after))
            )
        if seen_since is not None:
            query = query.where(agents.c.last_seen_time >= seen_since)
        if seen_before is not None:
            query = query.where(agents.c.last_seen_time < seen_before)
        query = query.order_by(agents.c.create_time, agents.c.id).limit(limit)
        return [_from_row(row) for row in (conn.execute(query)).mappings()]

    def capabilities(
        self, conn: Connection, workspace_id: str
    ) -> builtins.list[tuple[builtins.list[str], int]]:
        """(task kinds, last seen time) of every agent of the workspace."""
        query = sa.select(agents.c.capabilities, agents.c.last_seen_time).where(
            agents.c.workspace_id == workspace_id
        )
        return [(json.loads(kinds), int(seen)) for kinds, seen in conn.execute(query)]
