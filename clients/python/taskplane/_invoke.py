"""One place where SDK calls are sent: deadline, correlation id, retries of
UNAVAILABLE with backoff, and failures turned into `TaskplaneError`s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from taskplane import correlation
from taskplane.errors import TaskplaneError, Unavailable, from_rpc_error
from taskplane.retry import RetryPolicy

R = TypeVar("R")

Sleep = Callable[[float], Awaitable[None]]


def call_metadata(correlation_id: str | None) -> tuple[tuple[str, str], ...]:
    return ((correlation.HEADER, correlation_id or correlation.current() or correlation.new_id()),)


class Invoker:
    """Sends unary calls with the client's defaults."""

    def __init__(self, timeout_s: float, retry: RetryPolicy, sleep: Sleep = asyncio.sleep) -> None:
        self.timeout_s = timeout_s
        self.retry = retry
        self._sleep = sleep

    async def unary(
        self,
        method: Callable[..., Awaitable[R]],
        request: Any,
        *,
        name: str,
        timeout_s: float | None = None,
        correlation_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> R:
        policy = retry or self.retry
        metadata = call_metadata(correlation_id)
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        attempt = 1
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await method(request, timeout=max(remaining, 0.001), metadata=metadata)
            except grpc.aio.AioRpcError as error:
                failure = from_rpc_error(error, name)
            if not self._should_retry(failure, attempt, policy):
                raise failure
            delay = policy.backoff(attempt, failure.retry_delay)
            if time.monotonic() + delay >= deadline:
                raise failure
            await self._sleep(delay)
            attempt += 1

    @staticmethod
    def _should_retry(failure: TaskplaneError, attempt: int, policy: RetryPolicy) -> bool:
        return isinstance(failure, Unavailable) and attempt < policy.max_attempts
