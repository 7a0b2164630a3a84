"""A subscription that survives disconnects and server restarts.

The iterator remembers the sequence of the last event it yielded and, when
the stream breaks with UNAVAILABLE, subscribes again after that sequence, so
it never yields an event twice and never skips one. A subscription that
starts "now" first pins the head of the log, so a break before the first
event loses nothing either. "Now" is when the subscription is entered
(`async with client.subscribe(...) as events`) or `start()`ed, else when
iteration begins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import grpc

from taskplane import correlation
from taskplane._invoke import call_metadata
from taskplane.errors import Unavailable, from_rpc_error
from taskplane.retry import RetryPolicy
from taskplane.v1 import events_pb2, events_pb2_grpc

RECONNECT = RetryPolicy(max_attempts=30, initial_backoff_s=0.1, max_backoff_s=2.0)


class Subscription:
    """Async iterator of `Event`s; see the module docstring.

    `last_sequence` is the resume point; `head_sequence` the head of the log
    as last reported; `end` the end-of-stream message once the server ended
    the subscription (e.g. its task finished); `reconnects` counts resumes.
    """

    def __init__(
        self,
        stub: events_pb2_grpc.EventServiceAsyncStub,
        event_filter: events_pb2.EventFilter,
        *,
        after_sequence: int | None,
        from_now: bool,
        max_batch_size: int = 0,
        heartbeat_s: float | None = None,
        reconnect: RetryPolicy = RECONNECT,
        correlation_id: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._stub = stub
        self._filter = event_filter
        self._from_now = from_now and after_sequence is None
        self.last_sequence = after_sequence or 0
        self.head_sequence = 0
        self.end: events_pb2.EndOfStream | None = None
        self.reconnects = 0
        self._max_batch = max_batch_size
        self._heartbeat_s = heartbeat_s
        self._reconnect = reconnect
        self._correlation_id = correlation_id or correlation.current()
        self._sleep = sleep
        self._call: Any = None
        self._events = self._run()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> events_pb2.Event:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop: cancel the stream and end the iterator."""
        if self._call is not None:
            self._call.cancel()
        # RuntimeError: another task is iterating right now; the cancelled call ends it.
        with contextlib.suppress(RuntimeError):
            await self._events.aclose()

    async def start(self) -> None:
        """Pins the start of a "now" subscription; iteration does it otherwise."""
        if self._from_now:
            await self._pin_head()
            self._from_now = False

    async def __aenter__(self) -> Subscription:
        try:
            await self.start()
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error, "EventService/ListEvents") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _request(self) -> events_pb2.SubscribeRequest:
        request = events_pb2.SubscribeRequest(filter=self._filter, max_batch_size=self._max_batch)
        request.after_sequence = self.last_sequence
        if self._heartbeat_s is not None:
            request.heartbeat_interval.FromNanoseconds(int(self._heartbeat_s * 1e9))
        return request

    async def _pin_head(self) -> None:
        metadata = call_metadata(self._correlation_id)
        response = await self._stub.ListEvents(
            events_pb2.ListEventsRequest(filter=self._filter, page_size=1, after_sequence=2**62),
            metadata=metadata,
        )
        self.last_sequence = response.head_sequence

    async def _run(self) -> AsyncGenerator[events_pb2.Event, None]:
        failures = 0
        while True:
            try:
                await self.start()
                self._call = self._stub.Subscribe(
                    self._request(), metadata=call_metadata(self._correlation_id)
                )
                async for message in self._call:
                    failures = 0
                    kind = message.WhichOneof("message")
                    if kind == "batch":
                        for event in message.batch.events:
                            if event.sequence <= self.last_sequence:
                                continue
                            self.last_sequence = event.sequence
                            self.head_sequence = max(self.head_sequence, event.sequence)
                            yield event
                    elif kind == "heartbeat":
                        self.head_sequence = message.heartbeat.head_sequence
                    elif kind == "end_of_stream":
                        self.end = message.end_of_stream
                        return
                return
            except grpc.aio.AioRpcError as error:
                failure = from_rpc_error(error, "EventService/Subscribe")
                failures += 1
                if not isinstance(failure, Unavailable) or failures >= self._reconnect.max_attempts:
                    raise failure from None
            finally:
                if self._call is not None:
                    self._call.cancel()
                    self._call = None
            self.reconnects += 1
            await self._sleep(self._reconnect.backoff(failures))
