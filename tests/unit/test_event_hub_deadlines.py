"""Waiters of the event hub time out at their own deadlines, in any order
they arrive, before and after wake-ups."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from server.events.hub import EventHub, LogEntry
from taskplane.v1 import events_pb2


def _hub() -> EventHub:
    # Publishing and waiting never touch the store.
    return EventHub(database=cast(Any, None), event_log=cast(Any, None))


def _entry(sequence: int) -> LogEntry:
    event = events_pb2.Event(sequence=sequence, type="task.created")
    return LogEntry(sequence, event, event.SerializeToString())


async def _timed_wait(hub: EventHub, timeout: float) -> tuple[bool, float]:
    """wait_beyond(head, timeout): its answer and how long it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    woken = await hub.wait_beyond(hub.head, timeout)
    return woken, loop.time() - started


async def test_each_waiter_times_out_at_its_own_deadline() -> None:
    hub = _hub()
    # The longest first: a later, earlier deadline must still be kept.
    long, middle, short = (
        asyncio.create_task(_timed_wait(hub, timeout)) for timeout in (0.3, 0.15, 0.05)
    )
    (short_woken, short_s), (middle_woken, middle_s), (long_woken, long_s) = await asyncio.gather(
        short, middle, long
    )
    assert not (short_woken or middle_woken or long_woken)
    assert 0.045 <= short_s < 0.14
    assert 0.145 <= middle_s < 0.29
    assert 0.295 <= long_s < 0.6


async def test_an_event_wakes_every_waiter_and_later_deadlines_still_hold() -> None:
    hub = _hub()
    waiters = [asyncio.create_task(_timed_wait(hub, 5.0)) for _ in range(3)]
    await asyncio.sleep(0.01)
    hub.publish([_entry(1)])
    results = await asyncio.wait_for(asyncio.gather(*waiters), 1.0)
    assert all(woken and elapsed < 1.0 for woken, elapsed in results)

    # After the wake-up, a new waiter still times out on time, and one that
    # outlives it is woken by the next event.
    short = asyncio.create_task(_timed_wait(hub, 0.05))
    long = asyncio.create_task(_timed_wait(hub, 5.0))
    short_woken, short_s = await short
    assert not short_woken
    assert 0.045 <= short_s < 0.5
    assert not long.done()
    hub.publish([_entry(2)])
    long_woken, long_s = await asyncio.wait_for(long, 1.0)
    assert long_woken
    assert long_s < 1.0


async def test_a_cancelled_waiter_does_not_hold_up_the_others() -> None:
    hub = _hub()
    cancelled = asyncio.create_task(_timed_wait(hub, 0.02))
    await asyncio.sleep(0)
    cancelled.cancel()
    woken, elapsed = await _timed_wait(hub, 0.08)
    assert not woken
    assert 0.075 <= elapsed < 0.5
    assert cancelled.cancelled()
