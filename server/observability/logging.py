"""structlog configuration: one JSON object per line on stdout, stdlib loggers
routed through the same processors."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


# API key secrets look like `key_<26 chars>.<43 url-safe chars>`; bearer
# tokens of any shape follow "bearer ".
_SECRET = re.compile(r"key_[0-9a-z]{26}\.[A-Za-z0-9_-]{20,}|(?i:bearer)\s+\S+")


# The fields of the call being served (rpc, peer, correlation id, ...),
# merged into every line it logs: one context variable set per call, which
# costs a fraction of binding each field through structlog.contextvars.
_call_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "taskplane_log_fields"
)


def bind_call_fields(**fields: Any) -> dict[str, Any]:
    """Starts the log fields of a new call (replacing those of any other);
    returns them so that more can be added as the call proceeds."""
    _call_fields.set(fields)
    return fields


def merge_call_fields(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    fields = _call_fields.get(None)
    return {**fields, **event} if fields else event


def redact_secrets(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Defence in depth: no log line carries an API key or bearer token,
    whatever a caller or a library put in it."""
    for key, value in event.items():
        if isinstance(value, str) and ("key_" in value or "earer" in value):
            event[key] = _SECRET.sub("[redacted]", value)
    return event


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Configures structlog and the stdlib root logger for the whole process."""
    shared: list[structlog.typing.Processor] = [
        merge_call_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    console = fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Methods below the level do nothing: a disabled line (the access
        # line of every call, at warning level) builds no event at all.
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # Alembic narrates every migration check at INFO.
    logging.getLogger("alembic").setLevel(max(_LEVELS[level], logging.WARNING))
