"""Workspaces and API keys. Key lookups by id are the one query that is not
workspace-scoped: it is how the workspace of a call is found."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy import Connection

from server.store.schema import api_keys, workspaces


@dataclasses.dataclass
class WorkspaceRecord:
    id: str
    display_name: str
    parent_workspace_id: str
    create_time: int


@dataclasses.dataclass
class ApiKeyRecord:
    id: str
    workspace_id: str
    display_name: str
    role: int
    secret_hash: str
    create_time: int
    expire_time: int | None
    revoke_time: int | None


class WorkspaceRepository:
    def insert_workspace(self, conn: Connection, ws: WorkspaceRecord) -> None:
        conn.execute(workspaces.insert().values(**dataclasses.asdict(ws)))

    def count_workspaces(self, conn: Connection) -> int:
        return int((conn.execute(sa.select(sa.func.count()).select_from(workspaces))).scalar_one())

    def first_workspace(self, conn: Connection) -> WorkspaceRecord | None:
        query = sa.select(workspaces).order_by(workspaces.c.create_time).limit(1)
        row = (conn.execute(query)).mappings().first()
        return WorkspaceRecord(**row) if row else None

    def list_workspaces(
        self, conn: Connection, workspace_id: str, *, after: tuple[int, str] | None, limit: int
    ) -> list[WorkspaceRecord]:
        """The workspace itself and those it created, oldest first."""
        query = sa.select(workspaces).where(
            sa.or_(
                workspaces.c.id == workspace_id, workspaces.c.parent_workspace_id == workspace_id
            )
        )
        if after is not None:
            query = query.where(
                sa.tuple_(workspaces.c.create_time, workspaces.c.id)
                > sa.tuple_(*map(sa.literal, after))
            )
        query = query.order_by(workspaces.c.create_time, workspaces.c.id).limit(limit)
        return [WorkspaceRecord(**row) for row in (conn.execute(query)).mappings()]

    def insert_key(self, conn: Connection, key: ApiKeyRecord) -> None:
        conn.execute(api_keys.insert().values(**dataclasses.asdict(key)))

    def key_by_id(self, conn: Connection, key_id: str) -> ApiKeyRecord | None:
        row = (conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id))).mappings().first()
        return ApiKeyRecord(**row) if row else None

    def get_key(self, conn: Connection, workspace_id: str, key_id: str) -> ApiKeyRecord | None:
        query = sa.select(api_keys).where(
            api_keys.c.workspace_id == workspace_id, api_keys.c.id == key_id
        )
        row = (conn.execute(query)).mappings().first()
        return ApiKeyRecord(**row) if row else None

    def list_keys(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        active_at: int | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[ApiKeyRecord]:
        query = sa.select(api_keys).where(api_keys.c.workspace_id == workspace_id)
        if active_at is not None:
            query = query.where(
                api_keys.c.revoke_time.is_(None),
                sa.or_(api_keys.c.expire_time.is_(None), api_keys.c.expire_time > active_at),
            )
        if after is not None:
            query = query.where(
                sa.tuple_(api_keys.c.create_time, api_keys.c.id)
                > sa.tuple_(*map(sa.literal, after))
            )
        query = query.order_by(api_keys.c.create_time, api_keys.c.id).limit(limit)
        return [ApiKeyRecord(**row) for row in (conn.execute(query)).mappings()]

    def revoke_key(self, conn: Connection, workspace_id: str, key_id: str, now: int) -> None:
        conn.execute(
            api_keys.update()
            .where(
                api_keys.c.workspace_id == workspace_id,
                api_keys.c.id == key_id,
                api_keys.c.revoke_time.is_(None),
            )
            .values(revoke_time=now)
        )
