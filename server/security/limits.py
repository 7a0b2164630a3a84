"""Per-key limits: a token bucket for call rate and a cap on open streams."""

from __future__ import annotations

import time

from server.core.errors import ResourceExhausted


class RateLimiter:
    """Token buckets per API key: `rate` tokens per second up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key_id: str) -> None:
        """Takes a token or raises RESOURCE_EXHAUSTED saying when to retry."""
        if self._rate <= 0:
            return
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            raise ResourceExhausted(
                "rate limit of this API key exceeded",
                retry_after_s=(1.0 - tokens) / self._rate,
                reason="RATE_LIMITED",
            )
        self._buckets[key_id] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:
            self._buckets.clear()


class StreamLimiter:
    """Counts the open streams of each key."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, key_id: str) -> None:
        count = self._open.get(key_id, 0)
        if count >= self._limit:
            raise ResourceExhausted(
                f"this API key already holds {self._limit} open streams",
                retry_after_s=1.0,
                reason="TOO_MANY_STREAMS",
            )
        self._open[key_id] = count + 1

    def release(self, key_id: str) -> None:
        count = self._open.get(key_id, 0) - 1
        if count > 0:
            self._open[key_id] = count
        else:
            self._open.pop(key_id, None)
