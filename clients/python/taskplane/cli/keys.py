"""`taskplane keys ...`: create, list and revoke API keys of the workspace."""

from __future__ import annotations

import argparse

from taskplane.cli import args as types
from taskplane.cli import render
from taskplane.cli.console import Console
from taskplane.cli.views import key_detail, key_fields, key_table
from taskplane.client import Client
from taskplane.v1 import workspaces_pb2

ROLES = types.enum_choices(workspaces_pb2.Role.DESCRIPTOR, "ROLE_")
PAGE_SIZE = 500


def register(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = groups.add_parser("keys", help="manage API keys (admin)")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser(
        "create", parents=[common], help="create a key and print its secret, once"
    )
    create.add_argument("--role", choices=sorted(ROLES), required=True)
    create.add_argument("--name", default="", metavar="N", help="display name")
    create.set_defaults(handler=create_key)

    listing = commands.add_parser("list", parents=[common], help="list keys")
    listing.add_argument("--all", action="store_true", help="include revoked and expired keys")
    listing.set_defaults(handler=list_keys)

    revoke = commands.add_parser("revoke", parents=[common], help="revoke a key")
    revoke.add_argument("key_id", metavar="ID")
    revoke.set_defaults(handler=revoke_key)


async def create_key(client: Client, args: argparse.Namespace, console: Console) -> int:
    created = await client.create_api_key(
        workspaces_pb2.Role.ValueType(ROLES[args.role]), args.name
    )
    text = render.fields([*key_fields(created.api_key), ("secret", created.secret)])
    console.result(created, text)
    console.note("store the secret now: it is not shown again")
    return 0


async def list_keys(client: Client, args: argparse.Namespace, console: Console) -> int:
    found: list[workspaces_pb2.ApiKey] = []
    token = ""
    while True:
        page = await client.list_api_keys(
            show_inactive=args.all, page_size=PAGE_SIZE, page_token=token
        )
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    response = workspaces_pb2.ListApiKeysResponse(api_keys=found)
    console.result(response, key_table(found) if found else "no keys")
    return 0


async def revoke_key(client: Client, args: argparse.Namespace, console: Console) -> int:
    key = await client.revoke_api_key(args.key_id)
    console.result(key, key_detail(key))
    return 0
