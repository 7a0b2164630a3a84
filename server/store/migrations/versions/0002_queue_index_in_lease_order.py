"""queue index in lease order

The queue index now holds the order tasks are leased in (priority
descending, then age, then id), so that taking the next tasks of a kind
reads only those instead of sorting every queued task of the kind.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tasks_queue", table_name="tasks")
    op.create_index(
        "ix_tasks_queue",
        "tasks",
        ["workspace_id", "state", "kind", sa.text("priority DESC"), "create_time", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_queue", table_name="tasks")
    op.create_index(
        "ix_tasks_queue",
        "tasks",
        ["workspace_id", "state", "kind", "priority", "create_time"],
        unique=False,
    )
