"""`taskplane task ...`: create, get, list, cancel, wait for and requeue tasks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time

from taskplane.cli import args as types
from taskplane.cli.console import Console
from taskplane.cli.events import follow
from taskplane.cli.progress import Progress
from taskplane.cli.views import task_detail, task_state, task_table
from taskplane.client import Client
from taskplane.v1 import tasks_pb2

STATES = types.enum_choices(tasks_pb2.TaskState.DESCRIPTOR, "TASK_STATE_")
WAIT_SLICE_S = 2.0
"""Length of one WaitTask call while waiting, so the display stays current."""
LIST_PAGE_SIZE = 500

EXIT_SUCCEEDED = 0
EXIT_UNSUCCESSFUL = 1
EXIT_TIMED_OUT = 2
EXIT_USAGE = 2
_EXIT_CODES = {
    tasks_pb2.TASK_STATE_SUCCEEDED: EXIT_SUCCEEDED,
    tasks_pb2.TASK_STATE_FAILED: EXIT_UNSUCCESSFUL,
    tasks_pb2.TASK_STATE_CANCELLED: EXIT_UNSUCCESSFUL,
    tasks_pb2.TASK_STATE_DEAD_LETTERED: EXIT_UNSUCCESSFUL,
}

WAIT_EPILOG = (
    "exit status: 0 when the task succeeded, 1 when it failed, was cancelled or "
    "dead-lettered, 2 when the timeout passed first"
)


def register(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = groups.add_parser("task", help="create, inspect and manage tasks")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser(
        "create",
        parents=[common],
        help="create a task",
        epilog=WAIT_EPILOG + " (with --wait or --follow)",
    )
    create.add_argument("kind", help="task kind, e.g. summarize")
    source = create.add_mutually_exclusive_group()
    source.add_argument("--input", type=types.json_object, help="input as a JSON object")
    source.add_argument(
        "--input-file", type=types.json_file, metavar="PATH", help="input JSON file, - for stdin"
    )
    create.add_argument(
        "--label", type=types.label, action="append", metavar="KEY=VALUE", help="repeatable"
    )
    create.add_argument("--priority", type=int, default=0, help="higher runs first")
    create.add_argument("--max-attempts", type=types.positive_int, metavar="N")
    create.add_argument("--request-id", metavar="ID", help="idempotency key")
    until = create.add_mutually_exclusive_group()
    until.add_argument("--wait", action="store_true", help="wait until the task is finished")
    until.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="print the task's events until it is finished",
    )
    create.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=types.seconds,
        metavar="S",
        help="with --wait or --follow: give up after S seconds (default: no limit)",
    )
    create.set_defaults(handler=create_task)

    get = commands.add_parser("get", parents=[common], help="show a task")
    get.add_argument("task_id", metavar="ID")
    get.set_defaults(handler=get_task)

    listing = commands.add_parser("list", parents=[common], help="list tasks, newest first")
    listing.add_argument("--state", choices=sorted(STATES), action="append", help="repeatable")
    listing.add_argument("--kind", action="append", help="repeatable")
    listing.add_argument("--label", type=types.label, action="append", metavar="KEY=VALUE")
    listing.add_argument("--limit", type=types.positive_int, default=100, metavar="N")
    listing.set_defaults(handler=list_tasks)

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a task")
    cancel.add_argument("task_id", metavar="ID")
    cancel.add_argument("--reason", default="", metavar="R")
    cancel.set_defaults(handler=cancel_task)

    wait = commands.add_parser(
        "wait", parents=[common], help="wait until a task is finished", epilog=WAIT_EPILOG
    )
    wait.add_argument("task_id", metavar="ID")
    wait.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=types.seconds,
        metavar="S",
        help="give up after S seconds (default: no limit)",
    )
    wait.set_defaults(handler=wait_task)

    requeue = commands.add_parser(
        "requeue", parents=[common], help="queue a dead-lettered task again"
    )
    requeue.add_argument("task_id", metavar="ID")
    requeue.add_argument(
        "--extra-attempts",
        type=types.non_negative_int,
        default=0,
        metavar="N",
        help="attempts added to its retry policy",
    )
    requeue.set_defaults(handler=requeue_task)


async def create_task(client: Client, args: argparse.Namespace, console: Console) -> int:
    if args.wait_timeout is not None and not (args.wait or args.follow):
        console.error("--timeout needs --wait or --follow")
        return EXIT_USAGE
    created = await client.create_task(
        args.kind,
        args.input if args.input is not None else args.input_file,
        labels=types.pairs_to_dict(args.label),
        priority=args.priority,
        max_attempts=args.max_attempts,
        request_id=args.request_id,
    )
    if created.deduplicated:
        console.note(f"request id {created.task.request_id} was seen before: existing task")
    if args.follow:
        return await follow_to_the_end(client, created.task.id, args.wait_timeout, console)
    if not args.wait:
        console.result(created, task_detail(created.task))
        return 0
    waited = await wait_until_done(client, created.task.id, args.wait_timeout, console)
    final = tasks_pb2.CreateTaskResponse(task=waited.task, deduplicated=created.deduplicated)
    console.result(final, task_detail(waited.task))
    return exit_code(waited, args.wait_timeout, console)


async def follow_to_the_end(
    client: Client, task_id: str, timeout_s: float | None, console: Console
) -> int:
    """Prints the task's events until it is finished; the exit status of
    `task wait`."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await follow(client, console, task_id=task_id, after_sequence=0)
    task = await client.get_task(task_id)
    waited = tasks_pb2.WaitTaskResponse(task=task, done=task.state in _EXIT_CODES)
    return exit_code(waited, timeout_s, console)


async def get_task(client: Client, args: argparse.Namespace, console: Console) -> int:
    task = await client.get_task(args.task_id)
    console.result(task, task_detail(task))
    return 0


async def list_tasks(client: Client, args: argparse.Namespace, console: Console) -> int:
    found: list[tasks_pb2.Task] = []
    token = ""
    while True:
        page = await client.list_tasks(
            states=[tasks_pb2.TaskState.ValueType(STATES[name]) for name in args.state or ()],
            kinds=args.kind or (),
            labels=types.pairs_to_dict(args.label),
            page_size=min(args.limit - len(found), LIST_PAGE_SIZE),
            page_token=token,
        )
        found.extend(page.items[: args.limit - len(found)])
        token = page.next_page_token
        if not token or len(found) >= args.limit:
            break
    response = tasks_pb2.ListTasksResponse(tasks=found, next_page_token=token)
    console.result(response, task_table(found) if found else "no tasks")
    return 0


async def cancel_task(client: Client, args: argparse.Namespace, console: Console) -> int:
    task = await client.cancel_task(args.task_id, args.reason)
    console.result(task, task_detail(task))
    return 0


async def wait_task(client: Client, args: argparse.Namespace, console: Console) -> int:
    waited = await wait_until_done(client, args.task_id, args.wait_timeout, console)
    console.result(waited.task, task_detail(waited.task))
    return exit_code(waited, args.wait_timeout, console)


async def requeue_task(client: Client, args: argparse.Namespace, console: Console) -> int:
    task = await client.requeue_task(args.task_id, args.extra_attempts)
    console.result(task, task_detail(task))
    return 0


async def wait_until_done(
    client: Client, task_id: str, timeout_s: float | None, console: Console
) -> tasks_pb2.WaitTaskResponse:
    """WaitTask in short slices until the task is terminal or `timeout_s`
    passed, with a progress display when stderr is a terminal."""
    deadline = math.inf if timeout_s is None else time.monotonic() + timeout_s
    label = f"waiting for {task_id}"
    async with Progress(console.stderr, label, enabled=console.interactive) as progress:
        response = await client.wait_task(task_id, timeout_s=0)
        while True:
            progress.status = task_state(response.task.state)
            remaining = deadline - time.monotonic()
            if response.done or remaining <= 0:
                return response
            response = await client.wait_task(task_id, timeout_s=min(WAIT_SLICE_S, remaining))


def exit_code(waited: tasks_pb2.WaitTaskResponse, timeout_s: float | None, console: Console) -> int:
    """0 succeeded, 1 failed/cancelled/dead-lettered, 2 still going at the timeout."""
    if not waited.done:
        still = f"task {waited.task.id} is {task_state(waited.task.state)}"
        console.note(f"timed out after {timeout_s:g}s: {still}" if timeout_s else still)
        return EXIT_TIMED_OUT
    state = waited.task.state
    if state != tasks_pb2.TASK_STATE_SUCCEEDED:
        console.note(f"task {waited.task.id} {task_state(state)}")
    return _EXIT_CODES.get(state, EXIT_UNSUCCESSFUL)
