"""`taskplane worker demo`: the offline demo agent, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse

from taskplane.cli import args as types
from taskplane.cli.console import Console
from taskplane.client import Client
from taskplane.demo_agent import KINDS, demo_worker


def register(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = groups.add_parser("worker", help="run an agent worker")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help=f"serve {', '.join(KINDS)} with the offline demo agent",
        description=(
            "Serves the demo task kinds until Ctrl-C or SIGTERM, then lets running tasks finish."
        ),
    )
    demo.add_argument("--concurrency", type=types.positive_int, default=4, metavar="N")
    demo.set_defaults(handler=run_demo)


async def run_demo(client: Client, args: argparse.Namespace, console: Console) -> int:
    worker = demo_worker(client, concurrency=args.concurrency)
    console.note(f"demo agent serving {', '.join(KINDS)}; Ctrl-C stops it")
    await worker.run()
    console.note(f"demo agent {worker.agent_id} stopped")
    return 0
