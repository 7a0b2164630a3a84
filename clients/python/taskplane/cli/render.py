"""Formatting without knowledge of Taskplane resources: aligned tables,
local timestamps, human durations, enum labels and JSON documents."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import descriptor, duration_pb2, json_format, timestamp_pb2
from google.protobuf import message as pb_message

NONE = "-"
"""What an empty cell shows."""


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    rendered = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        rendered.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(rendered)


def fields(pairs: Iterable[tuple[str, str]]) -> str:
    """`name: value` lines with the values aligned."""
    items = list(pairs)
    width = max((len(name) for name, _ in items), default=0) + 1
    return "\n".join(f"{name + ':':<{width}} {value}".rstrip() for name, value in items)


def is_set(value: timestamp_pb2.Timestamp | duration_pb2.Duration) -> bool:
    return bool(value.seconds or value.nanos)


def timestamp(value: timestamp_pb2.Timestamp, *, milliseconds: bool = False) -> str:
    """Local time in ISO 8601 with its UTC offset; `-` when unset."""
    if not is_set(value):
        return NONE
    moment = value.ToDatetime(tzinfo=dt.UTC).astimezone()
    return moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")


def seconds_of(value: duration_pb2.Duration) -> float:
    return value.seconds + value.nanos / 1e9


def duration(seconds: float) -> str:
    """`850ms`, `12.3s`, `5m02s`, `3h04m`, `2d03h`."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def between(start: timestamp_pb2.Timestamp, end: timestamp_pb2.Timestamp) -> str:
    """Human duration from `start` to `end` (or to now when `end` is unset)."""
    if not is_set(start):
        return NONE
    finish = end.ToDatetime(tzinfo=dt.UTC) if is_set(end) else dt.datetime.now(dt.UTC)
    elapsed = (finish - start.ToDatetime(tzinfo=dt.UTC)).total_seconds()
    return duration(max(elapsed, 0.0))


def enum_label(enum: descriptor.EnumDescriptor, value: int, prefix: str) -> str:
    """`TASK_STATE_RUNNING` -> `RUNNING`; unknown numbers show as numbers."""
    known = enum.values_by_number.get(value)
    return known.name.removeprefix(prefix) if known is not None else str(value)


def labels(values: Mapping[str, str]) -> str:
    return ",".join(f"{key}={values[key]}" for key in sorted(values)) or NONE


def truncate(text: str, width: int) -> str:
    """One line of at most `width` characters, `…` marking a cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def whole_numbers(value: Any) -> Any:
    """`2.0` -> `2` throughout a JSON-like value (Struct numbers are doubles)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def compact_json(value: Any) -> str:
    return json.dumps(
        whole_numbers(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True
    )


def message_dict(message: pb_message.Message) -> dict[str, Any]:
    """The canonical proto3 JSON mapping of a message, as Python values."""
    value: dict[str, Any] = json_format.MessageToDict(message)
    return value


def json_document(message: pb_message.Message) -> str:
    return json.dumps(message_dict(message), indent=2, ensure_ascii=False)


def json_line(message: pb_message.Message) -> str:
    return json.dumps(message_dict(message), separators=(",", ":"), ensure_ascii=False)
