"""Conversions from domain records to v1 messages (used by the API and by
event payloads, which embed resources)."""

from __future__ import annotations

import json

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from server.core.model import Agent, Task, TaskError
from taskplane.v1 import agents_pb2, tasks_pb2


def timestamp(value_us: int | None) -> timestamp_pb2.Timestamp | None:
    if value_us is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromMicroseconds(value_us)
    return message


def duration(value_us: int) -> duration_pb2.Duration | None:
    if value_us <= 0:
        return None
    message = duration_pb2.Duration()
    message.FromMicroseconds(value_us)
    return message


def struct(json_text: str | None) -> struct_pb2.Struct | None:
    if not json_text:
        return None
    message = struct_pb2.Struct()
    if json_text != "{}":
        # The text was written by struct_json: an object of JSON values,
        # which is all Struct.update needs (json_format.Parse is slower).
        message.update(json.loads(json_text))
    return message


def struct_json(message: struct_pb2.Struct) -> str:
    return json.dumps(json_format.MessageToDict(message), separators=(",", ":"), sort_keys=True)


def error_to_proto(error: TaskError | None) -> tasks_pb2.TaskError | None:
    if error is None:
        return None
    return tasks_pb2.TaskError(
        code=error.code,
        message=error.message,
        retryable=error.retryable,
        details=struct(error.details_json),
    )


def task_to_proto(task: Task) -> tasks_pb2.Task:
    findings = (
        [tasks_pb2.GuardFinding(**item) for item in json.loads(task.guard_findings_json)]
        if task.guard_findings_json != "[]"
        else []
    )
    return tasks_pb2.Task(
        id=task.id,
        workspace_id=task.workspace_id,
        kind=task.kind,
        input=struct(task.input_json),
        labels=task.labels,
        priority=task.priority,
        retry_policy=tasks_pb2.RetryPolicy(
            max_attempts=task.max_attempts,
            initial_backoff=duration(task.initial_backoff_us),
            max_backoff=duration(task.max_backoff_us),
            backoff_multiplier=task.backoff_multiplier,
        ),
        timeouts=tasks_pb2.TaskTimeouts(
            schedule_to_start=duration(task.schedule_to_start_us),
            run=duration(task.run_timeout_us),
            heartbeat=duration(task.heartbeat_timeout_us),
        ),
        state=int(task.state),  # type: ignore[arg-type]
        attempt=task.attempt,
        result=struct(task.result_json),
        error=error_to_proto(task.error),
        correlation_id=task.correlation_id,
        request_id=task.request_id or "",
        agent_id=task.agent_id,
        execution_id=task.execution_id,
        cancel_reason=task.cancel_reason,
        guard_findings=findings,
        create_time=timestamp(task.create_time),
        update_time=timestamp(task.update_time),
        start_time=timestamp(task.start_time),
        end_time=timestamp(task.end_time),
        available_time=timestamp(task.available_time),
        etag=task.etag,
    )


def agent_to_proto(agent: Agent, *, online: bool) -> agents_pb2.Agent:
    return agents_pb2.Agent(
        id=agent.id,
        workspace_id=agent.workspace_id,
        name=agent.name,
        version=agent.version,
        description=agent.description,
        capabilities=agent.capabilities,
        max_concurrency=agent.max_concurrency,
        labels=agent.labels,
        status=agents_pb2.AGENT_STATUS_ONLINE if online else agents_pb2.AGENT_STATUS_OFFLINE,
        active_leases=agent.active_leases,
        create_time=timestamp(agent.create_time),
        last_seen_time=timestamp(agent.last_seen_time),
    )
