"""events without an index on id

Event ids are generated (millisecond time and 80 random bits) and never
looked up, so their unique index was written on every append for nothing.
On SQLite the sequence also becomes the table's rowid (INTEGER PRIMARY KEY)
instead of a separate primary key index. SQLite cannot drop a table
constraint, so there the table is rebuilt (rows copied in sequence order).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _rebuild_events(sequence_type: sa.types.TypeEngine[int], *, unique_id: bool) -> None:
    """SQLite: the events table again with `sequence_type`, rows and indexes kept."""
    constraints: list[sa.schema.SchemaItem] = [sa.PrimaryKeyConstraint("sequence")]
    if unique_id:
        constraints.append(sa.UniqueConstraint("id"))
    rebuilt = op.create_table(
        "events_rebuilt",
        sa.Column("sequence", sequence_type, autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("workflow_id", sa.String(length=40), nullable=False),
        sa.Column("correlation_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        *constraints,
    )
    columns = ", ".join(column.name for column in rebuilt.columns)
    op.execute(
        f"INSERT INTO events_rebuilt ({columns}) "  # noqa: S608 # nosec B608
        f"SELECT {columns} FROM events ORDER BY sequence"
    )
    op.drop_index("ix_events_workspace", table_name="events")
    op.drop_index("ix_events_task", table_name="events")
    op.drop_table("events")
    op.rename_table("events_rebuilt", "events")
    op.create_index("ix_events_task", "events", ["workspace_id", "task_id", "sequence"])
    op.create_index("ix_events_workspace", "events", ["workspace_id", "sequence"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_events(sa.Integer(), unique_id=False)
    else:
        op.drop_constraint("events_id_key", "events", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_events(sa.BigInteger(), unique_id=True)
    else:
        op.create_unique_constraint("events_id_key", "events", ["id"])
