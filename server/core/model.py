"""Domain records of tasks, agents and events."""

from __future__ import annotations

import dataclasses
import enum

from google.protobuf.message import Message

from taskplane.v1 import tasks_pb2


class TaskState(enum.IntEnum):
    """Lifecycle states; the numbers are those of `taskplane.v1.TaskState`."""

    QUEUED = tasks_pb2.TASK_STATE_QUEUED
    RUNNING = tasks_pb2.TASK_STATE_RUNNING
    CANCEL_REQUESTED = tasks_pb2.TASK_STATE_CANCEL_REQUESTED
    SUCCEEDED = tasks_pb2.TASK_STATE_SUCCEEDED
    FAILED = tasks_pb2.TASK_STATE_FAILED
    CANCELLED = tasks_pb2.TASK_STATE_CANCELLED
    DEAD_LETTERED = tasks_pb2.TASK_STATE_DEAD_LETTERED

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def leased(self) -> bool:
        return self in (TaskState.RUNNING, TaskState.CANCEL_REQUESTED)


TERMINAL_STATES = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED})
#: Event types after which a task has no more events (unless requeued).
TERMINAL_EVENT_TYPES = frozenset({"task.completed", "task.failed", "task.cancelled"})


@dataclasses.dataclass(frozen=True)
class TaskError:
    code: str
    message: str
    retryable: bool
    details_json: str = ""


@dataclasses.dataclass
class Task:
    """A task as stored. Durations and times are microseconds; JSON fields
    hold `google.protobuf.Struct` values in their JSON form."""

    id: str
    workspace_id: str
    kind: str
    input_json: str
    labels: dict[str, str]
    priority: int
    max_attempts: int
    attempt_budget: int
    initial_backoff_us: int
    max_backoff_us: int
    backoff_multiplier: float
    schedule_to_start_us: int
    run_timeout_us: int
    heartbeat_timeout_us: int
    state: TaskState
    attempt: int
    correlation_id: str
    traceparent: str
    request_id: str | None
    create_time: int
    update_time: int
    available_time: int
    version: int = 1
    result_json: str | None = None
    error: TaskError | None = None
    agent_id: str = ""
    execution_id: str = ""
    lease_id: str = ""
    lease_expire_time: int | None = None
    run_deadline: int | None = None
    cancel_reason: str = ""
    guard_findings_json: str = "[]"
    start_time: int | None = None
    end_time: int | None = None

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@dataclasses.dataclass
class Agent:
    id: str
    workspace_id: str
    name: str
    version: str
    description: str
    capabilities: list[str]
    max_concurrency: int
    labels: dict[str, str]
    request_id: str | None
    create_time: int
    last_seen_time: int
    active_leases: int = 0


@dataclasses.dataclass(frozen=True)
class EventDraft:
    """An event before the log assigns its id, sequence and time."""

    type: str
    payload: Message
    task_id: str = ""
    agent_id: str = ""
    execution_id: str = ""
    workflow_id: str = ""
    #: Override the call's workspace, correlation id and trace with the task's own.
    workspace_id: str = ""
    correlation_id: str = ""
    traceparent: str = ""


@dataclasses.dataclass(frozen=True)
class CallContext:
    """Who asks and in which call chain; stamped on the events a call causes."""

    workspace_id: str
    correlation_id: str = ""
    traceparent: str = ""
