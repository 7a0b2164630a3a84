"""Identifiers: a type prefix and 26 characters of time-ordered randomness."""

from __future__ import annotations

import os
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # pragma: allowlist secret
# Two characters (10 bits) per lookup: 13 lookups encode 130 bits.
_PAIRS = [first + second for first in ALPHABET for second in ALPHABET]
_SHIFTS = tuple(range(120, -10, -10))
# The last millisecond an id was made in, and its 10 digits.
_last_time: tuple[int, str] = (-1, "")


def base32(value: int) -> str:
    """The 26 base-32 digits of a value below 2**130, most significant first."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id(prefix: str) -> str:
    """`prefix_` + 10 characters of millisecond time + 16 random characters
    (the 26 digits of `millis << 80 | 80 random bits`), so ids of one prefix
    sort roughly by creation time."""
    global _last_time
    millis = int(time.time() * 1000)
    if _last_time[0] != millis:
        # Most ids share their millisecond with the one before.
        _last_time = (millis, base32(millis)[16:])
    bits = int.from_bytes(os.urandom(10), "big")
    pairs = _PAIRS
    return (
        f"{prefix}_{_last_time[1]}{pairs[bits >> 70]}{pairs[(bits >> 60) & 1023]}"
        f"{pairs[(bits >> 50) & 1023]}{pairs[(bits >> 40) & 1023]}{pairs[(bits >> 30) & 1023]}"
        f"{pairs[(bits >> 20) & 1023]}{pairs[(bits >> 10) & 1023]}{pairs[bits & 1023]}"
    )
