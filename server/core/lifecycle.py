"""The task state machine. Each transition mutates a Task record in place and
returns the events it causes; the engine persists both in one transaction.

    QUEUED -> RUNNING -> SUCCEEDED | FAILED
    RUNNING -> QUEUED (retry with backoff) | DEAD_LETTERED (attempts exhausted)
    RUNNING -> CANCEL_REQUESTED -> CANCELLED | SUCCEEDED
    QUEUED | DEAD_LETTERED -> CANCELLED;  DEAD_LETTERED -> QUEUED (requeue)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from server.core import protos
from server.core.errors import FailedPrecondition
from server.core.ids import new_id
from server.core.model import EventDraft, Task, TaskError, TaskState
from taskplane.v1 import events_pb2

LEASE_EXPIRED = TaskError("lease_expired", "no heartbeat before the lease expired", True)
RUN_TIMEOUT = TaskError("run_timeout", "the attempt ran longer than the run timeout", True)
SCHEDULE_TO_START_TIMEOUT = TaskError(
    "schedule_to_start_timeout", "no agent started the task in time", False
)


@dataclasses.dataclass(frozen=True)
class LeaseGrant:
    task: Task
    lease_id: str
    expire_time: int


def backoff_us(task: Task, attempt: int) -> int:
    """Delay before the attempt after `attempt`: initial * multiplier^(attempt-1), capped."""
    delay = task.initial_backoff_us * task.backoff_multiplier ** max(attempt - 1, 0)
    return int(min(delay, task.max_backoff_us))


def _touch(task: Task, now: int) -> None:
    task.update_time = now
    task.version += 1


def _task_event(task: Task, event_type: str, payload: object) -> EventDraft:
    return EventDraft(
        type=event_type,
        payload=payload,  # type: ignore[arg-type]
        task_id=task.id,
        agent_id=task.agent_id,
        execution_id=task.execution_id,
        workspace_id=task.workspace_id,
        correlation_id=task.correlation_id,
        traceparent=task.traceparent,
    )


def created(task: Task) -> list[EventDraft]:
    return [
        _task_event(task, "task.created", events_pb2.TaskCreated(task=protos.task_to_proto(task)))
    ]


def start(task: Task, agent_id: str, now: int) -> tuple[LeaseGrant, list[EventDraft]]:
    """QUEUED -> RUNNING under a new lease for the next attempt."""
    if task.state != TaskState.QUEUED:
        raise FailedPrecondition(f"task {task.id!r} is not queued")
    task.state = TaskState.RUNNING
    task.attempt += 1
    task.agent_id = agent_id
    task.execution_id = new_id("exe")
    task.lease_id = new_id("lse")
    task.lease_expire_time = now + task.heartbeat_timeout_us
    task.run_deadline = now + task.run_timeout_us if task.run_timeout_us else None
    task.start_time = now
    _touch(task, now)
    expire = protos.timestamp(task.lease_expire_time)
    events = [
        _task_event(
            task,
            "task.started",
            events_pb2.TaskStarted(
                attempt=task.attempt, lease_id=task.lease_id, lease_expire_time=expire
            ),
        ),
        _task_event(
            task,
            "execution.started",
            events_pb2.ExecutionStarted(attempt=task.attempt, lease_id=task.lease_id),
        ),
    ]
    return LeaseGrant(task, task.lease_id, task.lease_expire_time), events


def lease_is_current(task: Task, lease_id: str, now: int) -> bool:
    return (
        task.state.leased
        and task.lease_id == lease_id
        and task.lease_expire_time is not None
        and task.lease_expire_time > now
    )


def extend_lease(task: Task, now: int) -> None:
    """A heartbeat: the lease runs for another heartbeat timeout, but never
    past the run deadline."""
    expire = now + task.heartbeat_timeout_us
    if task.run_deadline is not None:
        expire = min(expire, task.run_deadline)
    task.lease_expire_time = expire


def _execution_completed(
    task: Task, outcome: int, now: int, error: TaskError | None = None
) -> EventDraft:
    return _task_event(
        task,
        "execution.completed",
        events_pb2.ExecutionCompleted(
            outcome=outcome,  # type: ignore[arg-type]
            attempt=task.attempt,
            duration=protos.duration(now - (task.start_time or now)),
            error=protos.error_to_proto(error),
        ),
    )


def _end_lease(task: Task) -> None:
    task.lease_id = ""
    task.lease_expire_time = None
    task.run_deadline = None


def complete(task: Task, result_json: str, now: int) -> list[EventDraft]:
    """RUNNING | CANCEL_REQUESTED -> SUCCEEDED."""
    events = [_execution_completed(task, events_pb2.EXECUTION_OUTCOME_SUCCEEDED, now)]
    task.state = TaskState.SUCCEEDED
    task.result_json = result_json
    task.end_time = now
    _end_lease(task)
    _touch(task, now)
    events.append(
        _task_event(
            task,
            "task.completed",
            events_pb2.TaskCompleted(result=protos.struct(result_json), attempt=task.attempt),
        )
    )
    return events


def fail(task: Task, error: TaskError, now: int) -> list[EventDraft]:
    """An attempt failed: cancel if requested, else retry, dead-letter or fail."""
    if task.state == TaskState.CANCEL_REQUESTED:
        events = [_execution_completed(task, events_pb2.EXECUTION_OUTCOME_CANCELLED, now, error)]
        return events + _cancel_now(task, now)
    outcome = (
        events_pb2.EXECUTION_OUTCOME_LEASE_EXPIRED
        if error.code in (LEASE_EXPIRED.code, RUN_TIMEOUT.code)
        else events_pb2.EXECUTION_OUTCOME_FAILED
    )
    source = "reaper" if outcome == events_pb2.EXECUTION_OUTCOME_LEASE_EXPIRED else "agent"
    occurred = events_pb2.ErrorOccurred(error=protos.error_to_proto(error), source=source)
    events = [
        _execution_completed(task, outcome, now, error),
        _task_event(task, "error.occurred", occurred),
    ]
    task.error = error
    _end_lease(task)
    _touch(task, now)
    if not error.retryable:
        task.state = TaskState.FAILED
        task.end_time = now
        payload = events_pb2.TaskFailed(error=protos.error_to_proto(error), attempt=task.attempt)
        return [*events, _task_event(task, "task.failed", payload)]
    if task.attempt >= task.attempt_budget:
        task.state = TaskState.DEAD_LETTERED
        dead = events_pb2.TaskDeadLettered(
            error=protos.error_to_proto(error), attempts=task.attempt
        )
        return [*events, _task_event(task, "task.dead_lettered", dead)]
    task.state = TaskState.QUEUED
    task.available_time = now + backoff_us(task, task.attempt)
    retrying = events_pb2.TaskRetrying(
        error=protos.error_to_proto(error),
        attempt=task.attempt,
        next_attempt_time=protos.timestamp(task.available_time),
    )
    return [*events, _task_event(task, "task.retrying", retrying)]


def expire(task: Task, now: int) -> list[EventDraft]:
    """The reaper found the lease lapsed (or the run deadline passed)."""
    if task.run_deadline is not None and task.run_deadline <= now:
        return fail(task, RUN_TIMEOUT, now)
    return fail(task, LEASE_EXPIRED, now)


def schedule_to_start_expired(task: Task, now: int) -> list[EventDraft]:
    """QUEUED too long: the task fails without retry."""
    task.state = TaskState.FAILED
    task.error = SCHEDULE_TO_START_TIMEOUT
    task.end_time = now
    _touch(task, now)
    payload = events_pb2.TaskFailed(
        error=protos.error_to_proto(SCHEDULE_TO_START_TIMEOUT), attempt=task.attempt
    )
    return [_task_event(task, "task.failed", payload)]


def _cancel_now(task: Task, now: int) -> list[EventDraft]:
    previous = task.state
    task.state = TaskState.CANCELLED
    task.end_time = now
    _end_lease(task)
    _touch(task, now)
    payload = events_pb2.TaskCancelled(reason=task.cancel_reason, previous_state=int(previous))  # type: ignore[arg-type]
    return [_task_event(task, "task.cancelled", payload)]


def cancel(task: Task, reason: str, now: int) -> list[EventDraft]:
    """Cancels at once unless an agent holds the task, which is then asked to stop."""
    if task.state.terminal or task.state == TaskState.CANCEL_REQUESTED:
        return []
    task.cancel_reason = reason
    if task.state == TaskState.RUNNING:
        task.state = TaskState.CANCEL_REQUESTED
        _touch(task, now)
        payload = events_pb2.TaskCancelRequested(reason=reason)
        return [_task_event(task, "task.cancel_requested", payload)]
    return _cancel_now(task, now)


def requeue(task: Task, extra_attempts: int, now: int) -> list[EventDraft]:
    """DEAD_LETTERED -> QUEUED with a fresh attempt budget."""
    if task.state != TaskState.DEAD_LETTERED:
        raise FailedPrecondition(f"task {task.id!r} is not dead-lettered")
    task.attempt_budget = task.attempt + (extra_attempts or task.max_attempts)
    task.state = TaskState.QUEUED
    task.available_time = now
    _touch(task, now)
    payload = events_pb2.TaskRequeued(remaining_attempts=task.attempt_budget - task.attempt)
    return [_task_event(task, "task.requeued", payload)]


#: A state change applied to a task at a time, returning its events.
Transition = Callable[[Task, int], list[EventDraft]]
