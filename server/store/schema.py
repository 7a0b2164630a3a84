"""Tables. Times are integer microseconds since the Unix epoch (UTC);
structured values are JSON text; enums are the v1 proto numbers."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("parent_workspace_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("create_time", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("display_name", sa.String(128), nullable=False, server_default=""),
    sa.Column("role", sa.Integer, nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("create_time", sa.BigInteger, nullable=False),
    sa.Column("expire_time", sa.BigInteger, nullable=True),
    sa.Column("revoke_time", sa.BigInteger, nullable=True),
    sa.Index("ix_api_keys_workspace", "workspace_id", "create_time"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(128), nullable=False),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("attempt_budget", sa.Integer, nullable=False),
    sa.Column("initial_backoff_us", sa.BigInteger, nullable=False),
    sa.Column("max_backoff_us", sa.BigInteger, nullable=False),
    sa.Column("backoff_multiplier", sa.Float, nullable=False),
    sa.Column("schedule_to_start_us", sa.BigInteger, nullable=False),
    sa.Column("run_timeout_us", sa.BigInteger, nullable=False),
    sa.Column("heartbeat_timeout_us", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("correlation_id", sa.String(128), nullable=False),
    sa.Column("traceparent", sa.String(128), nullable=False, server_default=""),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("agent_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("execution_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("lease_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("lease_expire_time", sa.BigInteger, nullable=True),
    sa.Column("run_deadline", sa.BigInteger, nullable=True),
    sa.Column("cancel_reason", sa.Text, nullable=False, server_default=""),
    sa.Column("guard_findings", sa.Text, nullable=False, server_default="[]"),
    sa.Column("create_time", sa.BigInteger, nullable=False),
    sa.Column("update_time", sa.BigInteger, nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=True),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("available_time", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # Idempotent create: one task per (workspace, request id); NULLs are distinct.
    sa.UniqueConstraint("workspace_id", "request_id", name="uq_tasks_request_id"),
    sa.Index("ix_tasks_list", "workspace_id", "create_time", "id"),
    sa.Index("ix_tasks_lease_expiry", "state", "lease_expire_time"),
)

# The queue: queued tasks of a kind in the order they are leased (priority
# descending, then age), so taking the next few reads only those.
sa.Index(
    "ix_tasks_queue",
    tasks.c.workspace_id,
    tasks.c.state,
    tasks.c.kind,
    tasks.c.priority.desc(),
    tasks.c.create_time,
    tasks.c.id,
)

task_labels = sa.Table(
    "task_labels",
    metadata,
    sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id"), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Index("ix_task_labels_lookup", "workspace_id", "key", "value"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("capabilities", sa.Text, nullable=False),
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("create_time", sa.BigInteger, nullable=False),
    sa.Column("last_seen_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("workspace_id", "request_id", name="uq_agents_request_id"),
    sa.Index("ix_agents_workspace", "workspace_id", "create_time", "id"),
)

# The event log. `sequence` is assigned under the lock of the `log_head` row,
# so it is gap-free and increases in commit order; on SQLite it is the rowid.
# Event ids are generated unique and never looked up: no index.
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "sequence",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("id", sa.String(40), nullable=False),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("workflow_id", sa.String(40), nullable=False),
    sa.Column("correlation_id", sa.String(128), nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Index("ix_events_task", "workspace_id", "task_id", "sequence"),
    sa.Index("ix_events_workspace", "workspace_id", "sequence"),
)

log_head = sa.Table(
    "log_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
)
