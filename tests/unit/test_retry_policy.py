"""The SDK's backoff: full jitter under an exponential ceiling, and a server
hint (RetryInfo) as a lower bound."""

from __future__ import annotations

import pytest

from taskplane.retry import RetryPolicy


def test_backoff_stays_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, max_backoff_s=1.0, multiplier=2.0)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [policy.backoff(retry) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jittered over the range, not pinned to 0


def test_a_server_hint_is_a_lower_bound_capped_by_the_maximum() -> None:
    policy = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=2.0)
    assert all(policy.backoff(1, server_hint_s=1.5) >= 1.5 for _ in range(50))
    assert all(policy.backoff(1, server_hint_s=60) <= 2.0 for _ in range(50))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_backoff_s": -1},
        {"initial_backoff_s": 3, "max_backoff_s": 2},
        {"multiplier": 0.5},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
