"""The task state machine without a server."""

from __future__ import annotations

import pytest

from server.core import lifecycle
from server.core.errors import FailedPrecondition
from server.core.model import CallContext, Task, TaskError, TaskState
from server.engine.tasks import NewTask, build_task


def new_task(**fields: object) -> Task:
    spec = NewTask(kind="k", **fields)  # type: ignore[arg-type]
    return build_task(spec, CallContext("wsp_1", "corr"), None, now=0)


def test_backoff_grows_and_is_capped() -> None:
    task = new_task(initial_backoff_us=100, max_backoff_us=1000, backoff_multiplier=3.0)
    assert [lifecycle.backoff_us(task, n) for n in (1, 2, 3, 4)] == [100, 300, 900, 1000]


def test_start_leases_the_next_attempt() -> None:
    task = new_task(heartbeat_timeout_us=50)
    grant, events = lifecycle.start(task, "agt_1", now=10)
    assert task.state == TaskState.RUNNING and task.attempt == 1
    assert grant.expire_time == 60
    assert [e.type for e in events] == ["task.started", "execution.started"]
    assert lifecycle.lease_is_current(task, grant.lease_id, now=59)
    assert not lifecycle.lease_is_current(task, grant.lease_id, now=60)
    with pytest.raises(FailedPrecondition):
        lifecycle.start(task, "agt_2", now=11)


def test_heartbeat_never_extends_past_the_run_deadline() -> None:
    task = new_task(heartbeat_timeout_us=50, run_timeout_us=70)
    lifecycle.start(task, "agt_1", now=0)
    lifecycle.extend_lease(task, now=40)
    assert task.lease_expire_time == 70
    assert [e.type for e in lifecycle.expire(task, now=70)][-1] == "task.retrying"
    assert task.error is not None and task.error.code == "run_timeout"


def test_cancel_is_a_no_op_on_terminal_tasks() -> None:
    task = new_task()
    assert [e.type for e in lifecycle.cancel(task, "stop", now=1)] == ["task.cancelled"]
    assert lifecycle.cancel(task, "again", now=2) == []
    assert task.cancel_reason == "stop"


def test_lease_expiry_while_cancel_requested_cancels() -> None:
    task = new_task()
    lifecycle.start(task, "agt_1", now=0)
    lifecycle.cancel(task, "stop", now=1)
    assert task.state == TaskState.CANCEL_REQUESTED
    assert [e.type for e in lifecycle.expire(task, now=10**9)][-1] == "task.cancelled"
    assert task.state.name == "CANCELLED"


def test_failure_without_attempts_left_dead_letters() -> None:
    task = new_task(max_attempts=1)
    lifecycle.start(task, "agt_1", now=0)
    events = lifecycle.fail(task, TaskError("boom", "", retryable=True), now=5)
    assert task.state == TaskState.DEAD_LETTERED
    assert [e.type for e in events] == [
        "execution.completed",
        "error.occurred",
        "task.dead_lettered",
    ]
    lifecycle.requeue(task, 2, now=6)
    assert task.attempt_budget == 3
    assert task.state.name == "QUEUED"
