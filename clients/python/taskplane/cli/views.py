"""Text views of Taskplane resources: detail blocks, table rows, one line
per event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf import struct_pb2

from taskplane.cli import render
from taskplane.structs import from_struct
from taskplane.v1 import agents_pb2, events_pb2, status_pb2, tasks_pb2, workspaces_pb2

SUMMARY_WIDTH = 100
EVENT_TYPE_WIDTH = 21
"""Longest v1 event type, `task.cancel_requested`."""


def task_state(value: int) -> str:
    return render.enum_label(tasks_pb2.TaskState.DESCRIPTOR, value, "TASK_STATE_")


def struct_text(value: struct_pb2.Struct) -> str:
    return render.compact_json(from_struct(value)) if value.fields else render.NONE


def task_error(error: tasks_pb2.TaskError) -> str:
    if not (error.code or error.message):
        return render.NONE
    retry = " (retryable)" if error.retryable else ""
    return f"{error.code}: {error.message}{retry}" if error.code else error.message + retry


def task_detail(task: tasks_pb2.Task) -> str:
    pairs = [
        ("id", task.id),
        ("kind", task.kind),
        ("state", task_state(task.state)),
        ("attempt", f"{task.attempt} of {task.retry_policy.max_attempts or '-'}"),
        ("priority", str(task.priority)),
        ("labels", render.labels(task.labels)),
        ("agent", task.agent_id or render.NONE),
        ("correlation id", task.correlation_id or render.NONE),
        ("request id", task.request_id or render.NONE),
        ("created", render.timestamp(task.create_time)),
        ("started", render.timestamp(task.start_time)),
        ("ended", render.timestamp(task.end_time)),
        ("run time", render.between(task.start_time, task.end_time)),
        ("input", struct_text(task.input)),
        ("result", struct_text(task.result)),
        ("error", task_error(task.error)),
    ]
    if task.cancel_reason:
        pairs.append(("cancel reason", task.cancel_reason))
    pairs.extend(
        ("guard finding", f"{f.field_path}: {f.detector}: {f.summary}") for f in task.guard_findings
    )
    return render.fields(pairs)


def task_table(tasks: Iterable[tasks_pb2.Task]) -> str:
    rows = [
        (
            task.id,
            task.kind,
            task_state(task.state),
            str(task.attempt),
            str(task.priority),
            render.timestamp(task.create_time),
            render.between(task.start_time, task.end_time),
            render.labels(task.labels),
        )
        for task in tasks
    ]
    headers = ("ID", "KIND", "STATE", "ATTEMPT", "PRIORITY", "CREATED", "RUN TIME", "LABELS")
    return render.table(headers, rows)


def agent_status(value: int) -> str:
    return render.enum_label(agents_pb2.AgentStatus.DESCRIPTOR, value, "AGENT_STATUS_")


def agent_table(agents: Iterable[agents_pb2.Agent]) -> str:
    rows = [
        (
            agent.id,
            agent.name,
            agent_status(agent.status),
            f"{agent.active_leases}/{agent.max_concurrency}",
            agent.version or render.NONE,
            render.timestamp(agent.last_seen_time),
            ",".join(agent.capabilities),
        )
        for agent in agents
    ]
    headers = ("ID", "NAME", "STATUS", "LEASES", "VERSION", "LAST SEEN", "CAPABILITIES")
    return render.table(headers, rows)


def role(value: int) -> str:
    return render.enum_label(workspaces_pb2.Role.DESCRIPTOR, value, "ROLE_").lower()


def key_state(key: workspaces_pb2.ApiKey) -> str:
    if render.is_set(key.revoke_time):
        return "revoked"
    if render.is_set(key.expire_time) and key.expire_time.ToNanoseconds() <= time.time_ns():
        return "expired"
    return "active"


def key_fields(key: workspaces_pb2.ApiKey) -> list[tuple[str, str]]:
    return [
        ("id", key.id),
        ("name", key.display_name or render.NONE),
        ("role", role(key.role)),
        ("state", key_state(key)),
        ("workspace", key.workspace_id),
        ("created", render.timestamp(key.create_time)),
        ("expires", render.timestamp(key.expire_time)),
        ("revoked", render.timestamp(key.revoke_time)),
    ]


def key_detail(key: workspaces_pb2.ApiKey) -> str:
    return render.fields(key_fields(key))


def key_table(keys: Iterable[workspaces_pb2.ApiKey]) -> str:
    rows = [
        (
            key.id,
            key.display_name or render.NONE,
            role(key.role),
            key_state(key),
            render.timestamp(key.create_time),
            render.timestamp(key.expire_time),
        )
        for key in keys
    ]
    return render.table(("ID", "NAME", "ROLE", "STATE", "CREATED", "EXPIRES"), rows)


def dependency_state(value: int) -> str:
    return render.enum_label(
        status_pb2.DependencyState.DESCRIPTOR, value, "DEPENDENCY_STATE_"
    ).lower()


def status_text(status: status_pb2.GetStatusResponse) -> str:
    summary = render.fields(
        [
            ("version", status.version or render.NONE),
            ("started", render.timestamp(status.start_time)),
            ("uptime", render.duration(render.seconds_of(status.uptime))),
            ("ready", "yes" if status.ready else "no"),
        ]
    )
    dependencies = render.table(
        ("DEPENDENCY", "STATE", "LATENCY", "CRITICAL", "DETAIL"),
        [
            (
                d.name,
                dependency_state(d.state),
                render.duration(render.seconds_of(d.latency)),
                "yes" if d.critical else "no",
                d.detail or render.NONE,
            )
            for d in status.dependencies
        ],
    )
    sections = [summary, dependencies]
    if status.capabilities:
        sections.append(
            render.table(
                ("KIND", "ONLINE AGENTS", "QUEUED TASKS"),
                [(c.kind, str(c.online_agents), str(c.queued_tasks)) for c in status.capabilities],
            )
        )
    return "\n\n".join(sections)


def _guard(findings: Iterable[tasks_pb2.GuardFinding]) -> str:
    count = len(list(findings))
    return f" [guard: {count} finding{'s' if count != 1 else ''}]" if count else ""


def _retrying(p: events_pb2.TaskRetrying) -> str:
    at = render.timestamp(p.next_attempt_time)
    return f"attempt {p.attempt} failed: {task_error(p.error)}; next attempt at {at}"


def _action(p: agents_pb2.AgentAction) -> str:
    status = render.enum_label(
        agents_pb2.ActionStatus.DESCRIPTOR, p.status, "ACTION_STATUS_"
    ).lower()
    text = f"{p.name} {status}"
    if render.is_set(p.duration):
        text += f" in {render.duration(render.seconds_of(p.duration))}"
    if p.error_message:
        text += f": {p.error_message}"
    return text + _guard(p.guard_findings)


def _execution_completed(p: events_pb2.ExecutionCompleted) -> str:
    outcome = render.enum_label(
        events_pb2.ExecutionOutcome.DESCRIPTOR, p.outcome, "EXECUTION_OUTCOME_"
    )
    text = f"attempt {p.attempt} {outcome.lower()}"
    if render.is_set(p.duration):
        text += f" in {render.duration(render.seconds_of(p.duration))}"
    if p.error.message:
        text += f": {task_error(p.error)}"
    return text


_SUMMARIES: dict[str, Callable[[Any], str]] = {
    "task_created": lambda p: f"kind {p.task.kind}, priority {p.task.priority}",
    "task_started": lambda p: f"attempt {p.attempt}, lease {p.lease_id}",
    "task_completed": lambda p: f"attempt {p.attempt}, result {struct_text(p.result)}",
    "task_failed": lambda p: f"attempt {p.attempt}: {task_error(p.error)}",
    "task_cancelled": lambda p: p.reason or "cancelled",
    "task_cancel_requested": lambda p: p.reason or "cancel requested",
    "task_retrying": _retrying,
    "task_dead_lettered": lambda p: f"after {p.attempts} attempts: {task_error(p.error)}",
    "task_requeued": lambda p: f"{p.remaining_attempts} attempts left",
    "agent_registered": lambda p: f"{p.agent.name} serving {','.join(p.agent.capabilities)}",
    "agent_message": lambda p: f"{p.role or 'message'}: {p.content}{_guard(p.guard_findings)}",
    "agent_thinking": lambda p: p.content + _guard(p.guard_findings),
    "agent_action": _action,
    "execution_started": lambda p: f"attempt {p.attempt}, lease {p.lease_id}",
    "execution_completed": _execution_completed,
    "error_occurred": lambda p: f"{p.source or 'error'}: {task_error(p.error)}",
    "workflow_started": lambda p: p.workflow_name,
    "workflow_completed": lambda p: "succeeded" if p.succeeded else task_error(p.error),
    "knowledge_indexed": lambda p: f"{p.collection}: {p.chunk_count} chunks",
    "knowledge_retrieved": lambda p: f"{p.collection}: {p.query}",
}


def event_summary(event: events_pb2.Event) -> str:
    """A short description of the payload, on one line."""
    field = event.WhichOneof("payload")
    if field is None:
        return ""
    summarize = _SUMMARIES.get(field)
    text = summarize(getattr(event, field)) if summarize else ""
    return render.truncate(text, SUMMARY_WIDTH)


def event_line(event: events_pb2.Event) -> str:
    """Sequence, time, type, task and summary; fixed widths, for streaming."""
    return (
        f"{event.sequence:>8}  {render.timestamp(event.time, milliseconds=True)}  "
        f"{event.type:<{EVENT_TYPE_WIDTH}}  {event.task_id or render.NONE:<30}  "
        f"{event_summary(event)}"
    ).rstrip()
