"""When and how long the SDK waits before trying a call again.

Only UNAVAILABLE is retried: the server did not act on the call (it was not
reachable, was shutting down, or its database was out), so the same request
can be sent again. Every mutating RPC is safe to repeat: CreateTask carries an
idempotency key, and lease calls are fenced by the lease.
"""

from __future__ import annotations

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter."""

    max_attempts: int = 5
    """Attempts in all, the first included; 1 disables retries."""
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("need 0 <= initial_backoff_s <= max_backoff_s")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def backoff(self, retry: int, server_hint_s: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first).

        A delay the server suggested (RetryInfo) is a lower bound.
        """
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (retry - 1))
        # Jitter, not cryptography.
        delay = random.uniform(0, ceiling)  # noqa: S311  # nosec B311
        if server_hint_s is not None:
            delay = max(delay, min(server_hint_s, self.max_backoff_s))
        return delay


NO_RETRY = RetryPolicy(max_attempts=1)
