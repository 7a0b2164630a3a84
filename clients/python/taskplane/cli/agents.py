"""`taskplane agents list`."""

from __future__ import annotations

import argparse

from taskplane.cli import args as types
from taskplane.cli.console import Console
from taskplane.cli.views import agent_table
from taskplane.client import Client
from taskplane.v1 import agents_pb2

STATUSES = types.enum_choices(agents_pb2.AgentStatus.DESCRIPTOR, "AGENT_STATUS_")
PAGE_SIZE = 500


def register(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = groups.add_parser("agents", help="list registered agents")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", parents=[common], help="list agents")
    listing.add_argument("--status", choices=sorted(STATUSES))
    listing.set_defaults(handler=list_agents)


async def list_agents(client: Client, args: argparse.Namespace, console: Console) -> int:
    status = agents_pb2.AgentStatus.ValueType(STATUSES[args.status] if args.status else 0)
    found: list[agents_pb2.Agent] = []
    token = ""
    while True:
        page = await client.list_agents(status=status, page_size=PAGE_SIZE, page_token=token)
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    response = agents_pb2.ListAgentsResponse(agents=found)
    console.result(response, agent_table(found) if found else "no agents")
    return 0
