"""What the engine tells observers (metrics) without knowing about them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from taskplane.v1 import events_pb2


class EngineObserver(Protocol):
    def events_appended(self, events: Sequence[events_pb2.Event]) -> None:
        """Called after each commit with the events this process appended in it:
        every state change (retry, dead letter, lease expiry...) is one of them."""
