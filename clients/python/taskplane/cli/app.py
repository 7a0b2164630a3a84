"""The command line: global options, command groups, connection and error
reporting. `run` is the async entry point; `main` wraps it for the console
script."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from taskplane.cli import agents, config, events, keys, status, tasks, worker
from taskplane.cli import args as types
from taskplane.cli.console import Console
from taskplane.client import connect
from taskplane.errors import TaskplaneError, Unauthenticated, Unavailable

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_CALL_TIMEOUT_S = 30.0


def _add_global_options(group: argparse._ArgumentGroup) -> None:
    """Options accepted before the command and after it. Their defaults are
    left out so a value given before the command is not overwritten."""
    unset = argparse.SUPPRESS
    group.add_argument(
        "--address",
        default=unset,
        metavar="HOST:PORT",
        help=f"server address (env {config.ADDRESS_ENV}, default {config.DEFAULT_ADDRESS})",
    )
    group.add_argument(
        "--api-key",
        default=unset,
        metavar="KEY",
        help=(
            f"API key (env {config.API_KEY_ENV}; default: the admin key in "
            f"${config.DATA_DIR_ENV}, else ./{config.DEFAULT_DATA_DIR})"
        ),
    )
    group.add_argument(
        "--tls", action="store_true", default=unset, help="use TLS with the system roots"
    )
    group.add_argument(
        "--ca-file", default=unset, metavar="PATH", help="use TLS, trusting these PEM roots"
    )
    group.add_argument(
        "--json", action="store_true", default=unset, help="print JSON instead of tables"
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common.add_argument_group("global options"))
    parser = argparse.ArgumentParser(
        prog="taskplane", description="Command line client of the Taskplane control plane."
    )
    options = parser.add_argument_group("global options")
    _add_global_options(options)
    options.add_argument(
        "--timeout",
        dest="call_timeout",
        type=types.seconds,
        default=DEFAULT_CALL_TIMEOUT_S,
        metavar="S",
        help=f"deadline of each call in seconds (default {DEFAULT_CALL_TIMEOUT_S:g})",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for module in (tasks, events, agents, keys, status, worker):
        module.register(groups, common)
    return parser


def _exit_status(code: int | str | None) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else EXIT_ERROR


def report(console: Console, error: TaskplaneError, address: str) -> None:
    """`error: CODE: message (correlation id ...)`, field violations, and a
    hint for failures of the connection or of the key."""
    console.error(str(error))
    for field, description in error.field_violations.items():
        console.note(f"  {field}: {description}")
    if isinstance(error, Unavailable):
        console.note(
            f"cannot reach a Taskplane server at {address}: is it running there? "
            f"(set --address or {config.ADDRESS_ENV})"
        )
    elif isinstance(error, Unauthenticated):
        console.note(f"the server refused the API key (set --api-key or {config.API_KEY_ENV})")


async def run(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Runs one command and returns its exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exit:
        return _exit_status(exit.code)
    console = Console(out, err, json=getattr(args, "json", False))
    try:
        target = config.resolve(
            address_flag=getattr(args, "address", None),
            api_key_flag=getattr(args, "api_key", None),
            tls_flag=getattr(args, "tls", False),
            ca_file=getattr(args, "ca_file", None),
            environ=os.environ if environ is None else environ,
        )
    except config.ConfigError as error:
        console.error(str(error))
        return EXIT_USAGE
    client = await connect(
        target.address,
        api_key=target.api_key,
        tls=target.tls,
        timeout_s=args.call_timeout,
        tracing=False,
    )
    try:
        async with client:
            status: int = await args.handler(client, args, console)
            return status
    except TaskplaneError as error:
        report(console, error, target.address)
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """The `taskplane` console script."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
