"""Identifiers: a type prefix and 26 characters of time-ordered randomness."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # pragma: allowlist secret


def new_id(prefix: str) -> str:
    """`prefix_` + 10 characters of millisecond time + 16 random characters,
    so ids of one prefix sort roughly by creation time."""
    millis = int(time.time() * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"
