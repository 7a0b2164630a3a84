"""Time as integer microseconds since the Unix epoch."""

from __future__ import annotations

import time

MICROS = 1_000_000


def now_us() -> int:
    return time.time_ns() // 1000


def seconds(value_us: int) -> float:
    return value_us / MICROS
