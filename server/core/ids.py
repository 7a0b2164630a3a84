"""Identifiers: a type prefix and 26 characters of time-ordered randomness."""

from __future__ import annotations

import os
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # pragma: allowlist secret
# Two characters (10 bits) per lookup: 13 lookups encode 130 bits.
_PAIRS = [first + second for first in ALPHABET for second in ALPHABET]
_SHIFTS = tuple(range(120, -10, -10))


def base32(value: int) -> str:
    """The 26 base-32 digits of a value below 2**130, most significant first."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id(prefix: str) -> str:
    """`prefix_` + 10 characters of millisecond time + 16 random characters,
    so ids of one prefix sort roughly by creation time."""
    millis = int(time.time() * 1000)
    return f"{prefix}_{base32((millis << 80) | int.from_bytes(os.urandom(10), 'big'))}"
