"""Administration from the command line, straight against the database:
`python -m server create-key --role operator --name ci`."""

from __future__ import annotations

import sqlalchemy as sa

from server.config import Settings
from server.core.clock import now_us
from server.engine.workspaces import WorkspaceCommands
from server.security.permissions import ADMIN, AGENT, OPERATOR, VIEWER
from server.store.database import Database
from server.store.migrate import upgrade
from server.store.workspaces import WorkspaceRepository

ROLES = {"admin": ADMIN, "operator": OPERATOR, "viewer": VIEWER, "agent": AGENT}


async def create_key(settings: Settings, role: str, name: str, workspace_id: str) -> str:
    """Creates an API key and returns its secret (the only time it is shown).
    Without a workspace id the key goes to the oldest (bootstrap) workspace."""
    database = Database(settings)
    repo = WorkspaceRepository()
    try:
        await upgrade(database)

        def work(conn: sa.Connection) -> str:
            workspace = workspace_id
            if not workspace:
                first = repo.first_workspace(conn)
                if first is None:
                    raise LookupError("no workspace yet: start the server once first")
                workspace = first.id
            record, secret = WorkspaceCommands.new_key(workspace, name, ROLES[role], None, now_us())
            repo.insert_key(conn, record)
            return secret

        return await database.write(work)
    finally:
        await database.dispose()
