"""`taskplane status`: version, uptime, readiness and dependency checks."""

from __future__ import annotations

import argparse

from taskplane.cli.console import Console
from taskplane.cli.views import status_text
from taskplane.client import Client


def register(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    status = groups.add_parser("status", parents=[common], help="show the server's status")
    status.set_defaults(handler=show_status)


async def show_status(client: Client, args: argparse.Namespace, console: Console) -> int:
    response = await client.get_status()
    console.result(response, status_text(response))
    return 0
