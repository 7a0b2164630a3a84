"""Workspace and API key commands, and the zero-config bootstrap."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
import structlog

from server.core.clock import now_us
from server.core.errors import NotFound
from server.core.ids import new_id
from server.core.model import CallContext, EventDraft
from server.engine.runtime import Runtime
from server.security import keys
from server.security.permissions import ADMIN
from server.store.schema import log_head
from server.store.workspaces import ApiKeyRecord, WorkspaceRecord, WorkspaceRepository

log = structlog.get_logger(__name__)
ADMIN_KEY_FILE = "admin.key"


class WorkspaceCommands:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self.repo = WorkspaceRepository()

    async def create_workspace(
        self, ctx: CallContext, display_name: str
    ) -> tuple[WorkspaceRecord, ApiKeyRecord, str]:
        def work(
            conn: sa.Connection, now: int
        ) -> tuple[tuple[WorkspaceRecord, ApiKeyRecord, str], list[EventDraft]]:
            ws = WorkspaceRecord(new_id("wsp"), display_name, ctx.workspace_id, now)
            self.repo.insert_workspace(conn, ws)
            key, secret = self.new_key(ws.id, "admin", ADMIN, None, now)
            self.repo.insert_key(conn, key)
            return (ws, key, secret), []

        result, _ = await self._rt.transact(ctx, work)
        return result

    @staticmethod
    def new_key(
        workspace_id: str, name: str, role: int, expire_time: int | None, now: int
    ) -> tuple[ApiKeyRecord, str]:
        key_id, secret = keys.new_secret()
        record = ApiKeyRecord(
            id=key_id,
            workspace_id=workspace_id,
            display_name=name,
            role=role,
            secret_hash=keys.digest(secret),
            create_time=now,
            expire_time=expire_time,
            revoke_time=None,
        )
        return record, secret

    async def create_key(
        self, ctx: CallContext, name: str, role: int, expire_time: int | None
    ) -> tuple[ApiKeyRecord, str]:
        def work(
            conn: sa.Connection, now: int
        ) -> tuple[tuple[ApiKeyRecord, str], list[EventDraft]]:
            record, secret = self.new_key(ctx.workspace_id, name, role, expire_time, now)
            self.repo.insert_key(conn, record)
            return (record, secret), []

        result, _ = await self._rt.transact(ctx, work)
        return result

    async def list_workspaces(
        self, workspace_id: str, *, after: tuple[int, str] | None, limit: int
    ) -> list[WorkspaceRecord]:
        return await self._rt.read(
            lambda conn: self.repo.list_workspaces(conn, workspace_id, after=after, limit=limit)
        )

    async def list_keys(
        self,
        workspace_id: str,
        *,
        active_at: int | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[ApiKeyRecord]:
        return await self._rt.read(
            lambda conn: self.repo.list_keys(
                conn, workspace_id, active_at=active_at, after=after, limit=limit
            )
        )

    async def revoke_key(self, ctx: CallContext, key_id: str) -> ApiKeyRecord:
        def work(conn: sa.Connection, now: int) -> tuple[ApiKeyRecord, list[EventDraft]]:
            self.repo.revoke_key(conn, ctx.workspace_id, key_id, now)
            record = self.repo.get_key(conn, ctx.workspace_id, key_id)
            if record is None:
                raise NotFound("api key", key_id)
            return record, []

        record, _ = await self._rt.transact(ctx, work)
        return record

    async def bootstrap(self, data_dir: Path) -> None:
        """On an empty store: a default workspace and an admin key, written to
        an owner-only file in the data directory. The log says where, never
        what."""

        def work(conn: sa.Connection) -> tuple[ApiKeyRecord, str] | None:
            # Serialize concurrent first starts of several replicas on the log lock.
            conn.execute(
                log_head.update().where(log_head.c.id == 1).values(sequence=log_head.c.sequence)
            )
            if self.repo.count_workspaces(conn):
                return None
            now = now_us()
            ws = WorkspaceRecord(new_id("wsp"), "default", "", now)
            self.repo.insert_workspace(conn, ws)
            key, secret = self.new_key(ws.id, "bootstrap admin", ADMIN, None, now)
            self.repo.insert_key(conn, key)
            return key, secret

        created = await self._rt.database.write(work)
        if created is None:
            return
        key, secret = created
        path = write_admin_key(data_dir, secret)
        log.info(
            "bootstrap.admin_key_written",
            path=str(path),
            workspace_id=key.workspace_id,
            key_id=key.id,
        )


def write_admin_key(data_dir: Path, secret: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ADMIN_KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)
    return path
