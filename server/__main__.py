"""Command line: `python -m server [serve|migrate|create-key]` (also
`taskplane-server`)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from server import event_loop
from server.admin_cli import ROLES, create_key
from server.app import run_forever
from server.config import Settings, SettingsError
from server.observability.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskplane-server", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "create-key"],
        help="serve (default): run the gRPC server; migrate: apply database migrations; "
        "create-key: create an API key and print its secret",
    )
    parser.add_argument("--role", choices=sorted(ROLES), default="operator")
    parser.add_argument("--name", default="", help="display name of the key")
    parser.add_argument("--workspace", default="", help="workspace id (default: the first)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"taskplane-server: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "create-key":
        try:
            secret = asyncio.run(create_key(settings, args.role, args.name, args.workspace))
        except LookupError as error:
            print(f"taskplane-server: {error}", file=sys.stderr)
            return 1
        print(secret)
        return 0
    if args.command == "migrate":
        from server.store.migrate import migrate

        asyncio.run(migrate(settings))
        return 0
    try:
        event_loop.resolve(settings.event_loop)
    except LookupError as error:
        print(f"taskplane-server: {error}", file=sys.stderr)
        return 2
    event_loop.run(run_forever(settings), settings.event_loop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
