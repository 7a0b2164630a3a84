"""Reading subscription streams in tests."""

from __future__ import annotations

import asyncio
from typing import Any

from taskplane.v1 import events_pb2
from tests.support.client import Api


async def collect(
    api: Api,
    request: events_pb2.SubscribeRequest,
    *,
    until: int | None = None,
    timeout: float = 10.0,
) -> tuple[list[events_pb2.Event], list[events_pb2.SubscribeResponse]]:
    """Events and control messages of a subscription, until `until` events
    arrived, the stream ended, or the timeout."""
    events: list[events_pb2.Event] = []
    control: list[events_pb2.SubscribeResponse] = []
    call: Any = api.events.Subscribe(request)

    async def read() -> None:
        async for response in call:
            if response.HasField("batch"):
                events.extend(response.batch.events)
                if until is not None and len(events) >= until:
                    return
            else:
                control.append(response)
                if response.HasField("end_of_stream"):
                    return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        pass
    finally:
        call.cancel()
    return events, control
