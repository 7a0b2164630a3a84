"""The correlation id of the current logical operation.

Calls made by the SDK send `x-correlation-id`: the one given to the call,
else the one bound here (the worker binds the id of the task it runs, so every
call of a handler carries it on to the events it causes), else a fresh one per
call, kept across its retries.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

HEADER = "x-correlation-id"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "taskplane_correlation_id", default=None
)


def current() -> str | None:
    """The correlation id bound in this context, if any."""
    return _current.get()


def new_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def bind(correlation_id: str | None) -> Iterator[None]:
    """Calls made inside the block carry `correlation_id` (None unbinds)."""
    token = _current.set(correlation_id or None)
    try:
        yield
    finally:
        _current.reset(token)
