"""Event filters, applied identically to replayed and live events."""

from __future__ import annotations

import dataclasses

from taskplane.v1 import events_pb2


@dataclasses.dataclass(frozen=True)
class EventFilter:
    workspace_id: str
    task_id: str = ""
    agent_id: str = ""
    workflow_id: str = ""
    correlation_id: str = ""
    types: frozenset[str] = frozenset()

    def in_scope(self, event: events_pb2.Event) -> bool:
        """Workspace and subject match (types aside)."""
        return (
            event.workspace_id == self.workspace_id
            and (not self.task_id or event.task_id == self.task_id)
            and (not self.agent_id or event.agent_id == self.agent_id)
            and (not self.workflow_id or event.workflow_id == self.workflow_id)
            and (not self.correlation_id or event.correlation_id == self.correlation_id)
        )

    def matches(self, event: events_pb2.Event) -> bool:
        return self.in_scope(event) and (not self.types or event.type in self.types)
