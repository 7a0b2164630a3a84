"""Command line: `python -m server [serve|migrate]` (also `taskplane-server`)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from server.app import run_forever
from server.config import Settings, SettingsError
from server.observability.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskplane-server", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve (default): run the gRPC server; migrate: apply database migrations",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"taskplane-server: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "migrate":
        from server.store.migrate import migrate

        asyncio.run(migrate(settings))
        return 0
    asyncio.run(run_forever(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
