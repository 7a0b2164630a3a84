"""TaskService: create, get, list, cancel, wait and requeue tasks."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import grpc

from server.api.call import current_call
from server.api.pagination import Keyset
from server.api.validation import (
    Checker,
    struct_json,
)
from server.core.protos import task_to_proto
from server.engine.tasks import NewTask, TaskCommands, TaskQuery
from server.security.screening import Screener, findings_json
from taskplane.v1 import tasks_pb2, tasks_pb2_grpc

DAY_S = 86_400.0
MAX_WAIT_S = 300.0
DEFAULT_WAIT_S = 30.0
Context = grpc.aio.ServicerContext[Any, Any]


def parse_new_task(task: tasks_pb2.Task, check: Checker) -> NewTask:
    check.kind("task.kind", task.kind)
    check.labels("task.labels", dict(task.labels))
    check.int_range("task.priority", task.priority, -1000, 1000)
    policy, timeouts = task.retry_policy, task.timeouts
    check.int_range("task.retry_policy.max_attempts", policy.max_attempts, 0, 100)
    if not 0 <= policy.backoff_multiplier <= 10:
        check.add("task.retry_policy.backoff_multiplier", "must be between 0 and 10")
    spec = NewTask(
        kind=task.kind,
        input_json=struct_json(check, "task.input", task.input),
        labels=dict(task.labels),
        priority=task.priority,
        max_attempts=policy.max_attempts,
        initial_backoff_us=check.duration_us(
            "task.retry_policy.initial_backoff",
            policy.initial_backoff,
            policy.HasField("initial_backoff"),
            max_s=DAY_S,
        ),
        max_backoff_us=check.duration_us(
            "task.retry_policy.max_backoff",
            policy.max_backoff,
            policy.HasField("max_backoff"),
            max_s=DAY_S,
        ),
        backoff_multiplier=policy.backoff_multiplier,
        schedule_to_start_us=check.duration_us(
            "task.timeouts.schedule_to_start",
            timeouts.schedule_to_start,
            timeouts.HasField("schedule_to_start"),
            max_s=30 * DAY_S,
        ),
        run_timeout_us=check.duration_us(
            "task.timeouts.run", timeouts.run, timeouts.HasField("run"), max_s=30 * DAY_S
        ),
        heartbeat_timeout_us=check.duration_us(
            "task.timeouts.heartbeat",
            timeouts.heartbeat,
            timeouts.HasField("heartbeat"),
            max_s=DAY_S,
        ),
    )
    if timeouts.HasField("heartbeat") and 0 < spec.heartbeat_timeout_us < 100_000:
        check.add("task.timeouts.heartbeat", "must be at least 100 ms")
    return spec


class TaskServicer(tasks_pb2_grpc.TaskServiceServicer):
    def __init__(self, commands: TaskCommands, screener: Screener) -> None:
        self._tasks = commands
        self._screener = screener

    async def CreateTask(
        self, request: tasks_pb2.CreateTaskRequest, context: Context
    ) -> tasks_pb2.CreateTaskResponse:
        check = Checker()
        if not request.HasField("task"):
            check.add("task", "is required")
            check.done()
        spec = parse_new_task(request.task, check)
        check.request_id("request_id", request.request_id)
        check.done()
        findings = self._screener.screen(json.loads(spec.input_json), "task.input")
        if findings:
            spec = dataclasses.replace(spec, guard_findings_json=findings_json(findings))
        call = current_call()
        created = await self._tasks.create(call.context(), spec, request.request_id or None)
        return tasks_pb2.CreateTaskResponse(
            task=created.message or task_to_proto(created.task),
            deduplicated=created.deduplicated,
        )

    async def GetTask(
        self, request: tasks_pb2.GetTaskRequest, context: Context
    ) -> tasks_pb2.GetTaskResponse:
        check = Checker()
        check.resource_id("task_id", request.task_id)
        check.done()
        task = await self._tasks.get(current_call().workspace_id, request.task_id)
        return tasks_pb2.GetTaskResponse(task=task_to_proto(task))

    async def ListTasks(
        self, request: tasks_pb2.ListTasksRequest, context: Context
    ) -> tasks_pb2.ListTasksResponse:
        check = Checker()
        limit = check.page_size("page_size", request.page_size, default=50, cap=500)
        for index, kind in enumerate(request.kinds):
            check.kind(f"kinds[{index}]", kind)
        check.labels("labels", dict(request.labels))
        check.done()
        query = TaskQuery(
            states=tuple(sorted(set(request.states))),
            kinds=tuple(sorted(set(request.kinds))),
            labels=dict(request.labels),
        )
        workspace_id = current_call().workspace_id
        keyset = Keyset(
            request.page_token,
            workspace_id,
            query.states,
            query.kinds,
            sorted(query.labels.items()),
        )
        found = await self._tasks.list(workspace_id, query, keyset.position, limit + 1)
        tasks, token = keyset.page(found, limit)
        return tasks_pb2.ListTasksResponse(
            tasks=[task_to_proto(task) for task in tasks], next_page_token=token
        )

    async def CancelTask(
        self, request: tasks_pb2.CancelTaskRequest, context: Context
    ) -> tasks_pb2.CancelTaskResponse:
        check = Checker()
        check.resource_id("task_id", request.task_id)
        check.text("reason", request.reason, max_len=1024)
        check.done()
        task = await self._tasks.cancel(current_call().context(), request.task_id, request.reason)
        return tasks_pb2.CancelTaskResponse(task=task_to_proto(task))

    async def WaitTask(
        self, request: tasks_pb2.WaitTaskRequest, context: Context
    ) -> tasks_pb2.WaitTaskResponse:
        check = Checker()
        check.resource_id("task_id", request.task_id)
        timeout_us = check.duration_us(
            "timeout", request.timeout, request.HasField("timeout"), max_s=10 * MAX_WAIT_S
        )
        check.done()
        timeout_s = min(
            timeout_us / 1e6 if request.HasField("timeout") else DEFAULT_WAIT_S, MAX_WAIT_S
        )
        remaining = context.time_remaining()
        if remaining is not None:
            # Answer just before the caller's deadline rather than after it.
            timeout_s = max(min(timeout_s, remaining - 0.05), 0.0)
        task = await self._tasks.wait(current_call().workspace_id, request.task_id, timeout_s)
        return tasks_pb2.WaitTaskResponse(task=task_to_proto(task), done=task.state.terminal)

    async def RequeueTask(
        self, request: tasks_pb2.RequeueTaskRequest, context: Context
    ) -> tasks_pb2.RequeueTaskResponse:
        check = Checker()
        check.resource_id("task_id", request.task_id)
        check.int_range("extra_attempts", request.extra_attempts, 0, 100)
        check.done()
        task = await self._tasks.requeue(
            current_call().context(), request.task_id, request.extra_attempts
        )
        return tasks_pb2.RequeueTaskResponse(task=task_to_proto(task))
