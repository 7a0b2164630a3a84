"""How tools report what they do: one `agent.action` event per call.

The worker's task context implements `ActionReporter`; tools take any
object that does, so they can be used (and tested) without a server.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol


class ActionStatus(enum.Enum):
    """Outcome of one action, as in the `agent.action` event."""

    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ActionReporter(Protocol):
    """Receives one report per tool call."""

    async def action(
        self,
        name: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        output: Mapping[str, Any] | None = None,
        status: ActionStatus = ActionStatus.SUCCEEDED,
        duration_s: float | None = None,
        error_message: str = "",
    ) -> None: ...


class RecordingReporter:
    """An `ActionReporter` that keeps the reports in memory (for local runs)."""

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []

    async def action(
        self,
        name: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        output: Mapping[str, Any] | None = None,
        status: ActionStatus = ActionStatus.SUCCEEDED,
        duration_s: float | None = None,
        error_message: str = "",
    ) -> None:
        self.actions.append(
            {
                "name": name,
                "arguments": dict(arguments or {}),
                "output": dict(output or {}),
                "status": status,
                "duration_s": duration_s,
                "error_message": error_message,
            }
        )
