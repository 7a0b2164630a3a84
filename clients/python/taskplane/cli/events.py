"""`taskplane events tail`: stored events, or a live follow that resumes
across disconnects."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from taskplane.cli import args as types
from taskplane.cli import render
from taskplane.cli.console import Console
from taskplane.cli.views import event_line
from taskplane.client import Client
from taskplane.v1 import events_pb2

PAGE_SIZE = 1000


def register(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = groups.add_parser("events", help="read and follow events")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tail = commands.add_parser(
        "tail",
        parents=[common],
        help="print matching events; -f keeps following",
        description=(
            "Prints the stored events matching the filters and exits; with --follow keeps "
            "printing new ones until Ctrl-C, or until the task is finished for --task. "
            "--follow starts at the beginning for --task, else at the newest event."
        ),
    )
    tail.add_argument("--task", default="", metavar="ID", help="events of one task")
    tail.add_argument("--agent", default="", metavar="ID", help="events of one agent")
    tail.add_argument("--correlation-id", default="", metavar="C")
    tail.add_argument(
        "--type", dest="types", action="append", metavar="T", help="e.g. agent.message; repeatable"
    )
    start = tail.add_mutually_exclusive_group()
    start.add_argument(
        "--after", type=types.non_negative_int, metavar="SEQ", help="only events after SEQ"
    )
    start.add_argument("--from-beginning", action="store_true", help="start at the first event")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    tail.set_defaults(handler=tail_events)


def _print(console: Console, event: events_pb2.Event) -> None:
    console.out(render.json_line(event) if console.json else event_line(event))


async def tail_events(client: Client, args: argparse.Namespace, console: Console) -> int:
    if args.follow:
        await _follow(client, args, console)
    else:
        await _stored(client, args, console)
    return 0


async def _stored(client: Client, args: argparse.Namespace, console: Console) -> None:
    token = ""
    while True:
        page = await client.list_events(
            task_id=args.task,
            agent_id=args.agent,
            correlation_id=args.correlation_id,
            types=args.types or (),
            after_sequence=args.after or 0,
            page_size=PAGE_SIZE,
            page_token=token,
        )
        for event in page.events:
            _print(console, event)
        token = page.next_page_token
        if not token:
            return


async def _follow(client: Client, args: argparse.Namespace, console: Console) -> None:
    after = args.after
    if after is None and (args.from_beginning or args.task):
        after = 0
    await follow(
        client,
        console,
        task_id=args.task,
        agent_id=args.agent,
        correlation_id=args.correlation_id,
        types=args.types or (),
        after_sequence=after,
    )


async def follow(
    client: Client,
    console: Console,
    *,
    task_id: str = "",
    agent_id: str = "",
    correlation_id: str = "",
    types: Sequence[str] = (),
    after_sequence: int | None = None,
) -> None:
    """Prints events as they come, from `after_sequence` (None: from now),
    until the server ends the stream."""
    subscription = client.subscribe(
        task_id=task_id,
        agent_id=agent_id,
        correlation_id=correlation_id,
        types=types,
        after_sequence=after_sequence,
        from_now=after_sequence is None,
    )
    async with subscription:
        async for event in subscription:
            _print(console, event)
    if subscription.end is not None and subscription.end.reason:
        console.note(f"end of stream: {subscription.end.reason}")
