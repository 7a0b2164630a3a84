"""Event type names and their payload fields.

The type of an event is the name of its payload field in `Event.payload` with
the first `_` turned into `.`: `task_created` <-> `task.created`,
`task_dead_lettered` <-> `task.dead_lettered`.
"""

from __future__ import annotations

from typing import Final

from taskplane.v1 import events_pb2

PAYLOAD_ONEOF: Final = "payload"

#: Version of the payload schemas of v1; stamped on every event.
SCHEMA_VERSION = 1


def type_of_field(field_name: str) -> str:
    """Event type for a payload field name."""
    area, _, name = field_name.partition("_")
    return f"{area}.{name}"


def field_of_type(event_type: str) -> str:
    """Payload field name for an event type."""
    return event_type.replace(".", "_", 1)


#: Every event type of v1, in field-number order.
EVENT_TYPES: tuple[str, ...] = tuple(
    type_of_field(field.name)
    for field in events_pb2.Event.DESCRIPTOR.oneofs_by_name[PAYLOAD_ONEOF].fields
)


def event_type(event: events_pb2.Event) -> str:
    """Type of an event, derived from the payload it carries ('' when none)."""
    field = event.WhichOneof(PAYLOAD_ONEOF)
    return type_of_field(field) if field else ""
