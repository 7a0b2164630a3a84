"""initial schema

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("capabilities", sa.Text(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "request_id", name="uq_agents_request_id"),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_workspace", ["workspace_id", "create_time", "id"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("workflow_id", sa.String(length=40), nullable=False),
        sa.Column("correlation_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_task", ["workspace_id", "task_id", "sequence"], unique=False
        )
        batch_op.create_index("ix_events_workspace", ["workspace_id", "sequence"], unique=False)

    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_budget", sa.Integer(), nullable=False),
        sa.Column("initial_backoff_us", sa.BigInteger(), nullable=False),
        sa.Column("max_backoff_us", sa.BigInteger(), nullable=False),
        sa.Column("backoff_multiplier", sa.Float(), nullable=False),
        sa.Column("schedule_to_start_us", sa.BigInteger(), nullable=False),
        sa.Column("run_timeout_us", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_timeout_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=False),
        sa.Column("traceparent", sa.String(length=128), server_default="", nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("agent_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("execution_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("lease_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("lease_expire_time", sa.BigInteger(), nullable=True),
        sa.Column("run_deadline", sa.BigInteger(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("guard_findings", sa.Text(), server_default="[]", nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("available_time", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "request_id", name="uq_tasks_request_id"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_lease_expiry", ["state", "lease_expire_time"], unique=False)
        batch_op.create_index("ix_tasks_list", ["workspace_id", "create_time", "id"], unique=False)
        batch_op.create_index(
            "ix_tasks_queue",
            ["workspace_id", "state", "kind", "priority", "create_time"],
            unique=False,
        )

    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("parent_workspace_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("expire_time", sa.BigInteger(), nullable=True),
        sa.Column("revoke_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_keys_workspace", ["workspace_id", "create_time"], unique=False
        )

    op.create_table(
        "task_labels",
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
        ),
        sa.PrimaryKeyConstraint("task_id", "key"),
    )
    with op.batch_alter_table("task_labels", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_labels_lookup", ["workspace_id", "key", "value"], unique=False
        )
    # The log head starts at sequence 0; the first event gets 1.
    log_head = sa.table(
        "log_head", sa.column("id", sa.Integer), sa.column("sequence", sa.BigInteger)
    )
    op.bulk_insert(log_head, [{"id": 1, "sequence": 0}])


def downgrade() -> None:
    with op.batch_alter_table("task_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_task_labels_lookup")

    op.drop_table("task_labels")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_workspace")

    op.drop_table("api_keys")
    op.drop_table("workspaces")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_queue")
        batch_op.drop_index("ix_tasks_list")
        batch_op.drop_index("ix_tasks_lease_expiry")

    op.drop_table("tasks")
    op.drop_table("log_head")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_workspace")
        batch_op.drop_index("ix_events_task")

    op.drop_table("events")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_workspace")

    op.drop_table("agents")
