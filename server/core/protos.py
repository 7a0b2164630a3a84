"""Conversions from domain records to v1 messages (used by the API and by
event payloads, which embed resources)."""

from __future__ import annotations

import json

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from server.core.model import Agent, Task, TaskError
from taskplane.v1 import agents_pb2, tasks_pb2


def _split(value_us: int) -> tuple[int, int]:
    """Microseconds as the (seconds, nanos) of a Timestamp or Duration."""
    seconds, micros = divmod(value_us, 1_000_000)
    return seconds, micros * 1000


def timestamp(value_us: int | None) -> timestamp_pb2.Timestamp | None:
    if value_us is None:
        return None
    seconds, nanos = _split(value_us)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def duration(value_us: int) -> duration_pb2.Duration | None:
    if value_us <= 0:
        return None
    seconds, nanos = _split(value_us)
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


def set_time(field: timestamp_pb2.Timestamp, value_us: int) -> None:
    field.seconds, field.nanos = _split(value_us)


def _set_duration(field: duration_pb2.Duration, value_us: int) -> None:
    if value_us > 0:
        field.seconds, field.nanos = _split(value_us)


def struct(json_text: str | None) -> struct_pb2.Struct | None:
    if not json_text:
        return None
    message = struct_pb2.Struct()
    _set_struct(message, json_text)
    return message


def _set_struct(field: struct_pb2.Struct, json_text: str) -> None:
    if json_text == "{}":
        field.SetInParent()
    else:
        # The text was written by struct_json: an object of JSON values,
        # which is all Struct.update needs (json_format.Parse is slower).
        field.update(json.loads(json_text))


def struct_json(message: struct_pb2.Struct) -> str:
    """The JSON text of a Struct, keys sorted; ValueError for NaN and
    infinities, which JSON cannot hold. Numbers are doubles, as in
    json_format (`5` is written `5.0`)."""
    return json.dumps(
        {key: _plain(value) for key, value in message.fields.items()},
        separators=(",", ":"),
        sort_keys=True,
        allow_nan=False,
    )


def _plain(value: struct_pb2.Value) -> object:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: _plain(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_plain(item) for item in value.list_value.values]
    return None


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
    # Scalars through the constructor, messages filled in place: building
    # each sub-message on its own and copying it in costs twice as much.
    message = tasks_pb2.Task(
        id=task.id,
        workspace_id=task.workspace_id,
        kind=task.kind,
        labels=task.labels,
        priority=task.priority,
        state=int(task.state),  # type: ignore[arg-type]
        attempt=task.attempt,
        correlation_id=task.correlation_id,
        request_id=task.request_id or "",
        agent_id=task.agent_id,
        execution_id=task.execution_id,
        cancel_reason=task.cancel_reason,
        etag=task.etag,
    )
    if task.input_json:
        _set_struct(message.input, task.input_json)
    policy = message.retry_policy
    policy.SetInParent()
    policy.max_attempts = task.max_attempts
    policy.backoff_multiplier = task.backoff_multiplier
    _set_duration(policy.initial_backoff, task.initial_backoff_us)
    _set_duration(policy.max_backoff, task.max_backoff_us)
    timeouts = message.timeouts
    timeouts.SetInParent()
    _set_duration(timeouts.schedule_to_start, task.schedule_to_start_us)
    _set_duration(timeouts.run, task.run_timeout_us)
    _set_duration(timeouts.heartbeat, task.heartbeat_timeout_us)
    if task.result_json:
        _set_struct(message.result, task.result_json)
    error = error_to_proto(task.error)
    if error is not None:
        message.error.CopyFrom(error)
    if task.guard_findings_json != "[]":
        message.guard_findings.extend(
            tasks_pb2.GuardFinding(**item) for item in json.loads(task.guard_findings_json)
        )
    set_time(message.create_time, task.create_time)
    set_time(message.update_time, task.update_time)
    if task.start_time is not None:
        set_time(message.start_time, task.start_time)
    if task.end_time is not None:
        set_time(message.end_time, task.end_time)
    set_time(message.available_time, task.available_time)
    return message


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
