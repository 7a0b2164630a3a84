"""The event loop the server runs on: uvloop where it is installed (it is a
dependency on Linux and macOS), asyncio's own loop otherwise or on request.

uvloop runs the loop's own work (scheduling callbacks, polling sockets) in
compiled code: a CreateTask costs about a tenth fewer instructions on it."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def resolve(choice: str) -> str:
    """The loop `choice` (a TASKPLANE_EVENT_LOOP value) stands for here."""
    if choice == "auto":
        return "uvloop" if uvloop_available() else "asyncio"
    if choice == "uvloop" and not uvloop_available():
        raise LookupError("TASKPLANE_EVENT_LOOP=uvloop but uvloop is not installed")
    return choice


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A factory for `asyncio.Runner`; None means asyncio's default loop."""
    if resolve(choice) == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """`asyncio.run(main)` on the loop `choice` stands for; LookupError, before
    anything runs, when that loop is not installed."""
    try:
        factory = loop_factory(choice)
    except LookupError:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def running() -> str:
    """Which loop runs the calling coroutine: `uvloop` or `asyncio`."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
