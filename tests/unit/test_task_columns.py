"""A task update writes only the columns transitions change: every
transition of the lifecycle leaves the other columns as they were created."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from server.core import lifecycle
from server.core.model import CallContext, Task, TaskError
from server.engine.tasks import NewTask, build_task
from server.store.tasks import _COLUMNS, CHANGING_COLUMNS, _changing_values, _to_values

RETRYABLE = TaskError(code="flaky", message="try again", retryable=True)
FATAL = TaskError(code="bad", message="no", retryable=False)


def new_task() -> Task:
    spec = NewTask(
        kind="k",
        input_json='{"n":1}',
        labels={"team": "a"},
        priority=3,
        max_attempts=2,
        heartbeat_timeout_us=50,
        run_timeout_us=500,
        schedule_to_start_us=1_000,
    )
    return build_task(spec, CallContext("wsp_1", "corr", "tp"), "req-1", now=0)


def started(task: Task, now: int = 1) -> Task:
    lifecycle.start(task, "agt_1", now)
    return task


PATHS: dict[str, list[Callable[[Task], object]]] = {
    "complete": [
        started,
        lambda t: lifecycle.extend_lease(t, 5),
        lambda t: lifecycle.complete(t, '{"ok":1}', 6),
    ],
    "retry then dead letter then requeue": [
        started,
        lambda t: lifecycle.fail(t, RETRYABLE, 2),
        lambda t: started(t, 10**6),
        lambda t: lifecycle.fail(t, RETRYABLE, 10**6 + 1),
        lambda t: lifecycle.requeue(t, 1, 10**6 + 2),
    ],
    "fatal failure": [started, lambda t: lifecycle.fail(t, FATAL, 2)],
    "lease expiry": [started, lambda t: lifecycle.expire(t, 100)],
    "cancel queued": [lambda t: lifecycle.cancel(t, "stop", 1)],
    "cancel running": [
        started,
        lambda t: lifecycle.cancel(t, "stop", 2),
        lambda t: lifecycle.expire(t, 100),
    ],
    "schedule to start": [lambda t: lifecycle.schedule_to_start_expired(t, 2_000)],
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_transitions_change_only_the_changing_columns(path: str) -> None:
    task = new_task()
    created = dict(zip(_COLUMNS, _to_values(task), strict=True))
    for step in PATHS[path]:
        step(task)
        now = dict(zip(_COLUMNS, _to_values(task), strict=True))
        changed = {name for name in _COLUMNS if now[name] != created[name]}
        assert changed <= set(CHANGING_COLUMNS), f"{path}: {changed - set(CHANGING_COLUMNS)}"
        # The update writes each changing column as the insert would.
        assert _changing_values(task) == tuple(now[name] for name in CHANGING_COLUMNS)
    assert "version" in changed  # the path did change the task
