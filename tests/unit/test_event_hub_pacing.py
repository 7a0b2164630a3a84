"""Delivery rounds of the event hub: a large round holds the next events back
until its waiters are waiting again, then for a gap (as long again at
first, then following how busy the process was in the last gap), capped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from server.events.hub import (
    GAP_MIN,
    LINGER_MAX_S,
    LINGER_MIN_WAITERS,
    ROUND_CAP_MIN_S,
    EventHub,
    LogEntry,
)
from taskplane.v1 import events_pb2

WAITERS = 2 * LINGER_MIN_WAITERS


def _hub() -> EventHub:
    # Publishing and waiting never touch the store.
    return EventHub(database=cast(Any, None), event_log=cast(Any, None))


def _entry(sequence: int) -> LogEntry:
    event = events_pb2.Event(sequence=sequence, type="task.created")
    return LogEntry(sequence, event, event.SerializeToString())


def _waiting(hub: EventHub, after: int, count: int) -> list[asyncio.Task[bool]]:
    return [asyncio.create_task(hub.wait_beyond(after, 5.0)) for _ in range(count)]


async def _publish_to_waiters(
    hub: EventHub, sequence: int
) -> tuple[float, list[asyncio.Task[bool]]]:
    """WAITERS waiting for `sequence`, then `sequence` published: when it was
    published, and the waiters."""
    waiters = _waiting(hub, sequence - 1, WAITERS)
    await asyncio.sleep(0)
    published = asyncio.get_running_loop().time()
    hub.publish([_entry(sequence)])
    return published, waiters


async def test_a_small_round_does_not_hold_back_the_next_events() -> None:
    hub = _hub()
    waiters = _waiting(hub, 0, LINGER_MIN_WAITERS - 1)
    await asyncio.sleep(0)
    hub.publish([_entry(1)])
    assert all(await asyncio.gather(*waiters))
    hub.publish([_entry(2)])
    assert hub.head == 2


async def test_a_large_round_holds_until_its_waiters_return_and_as_long_again() -> None:
    loop = asyncio.get_running_loop()
    hub = _hub()
    revealed, waiters = await _publish_to_waiters(hub, 1)
    assert hub.head == 1
    assert all(await asyncio.gather(*waiters))
    hub.publish([_entry(2)])
    assert hub.head == 1, "held while the round's streams are still delivering"

    await asyncio.sleep(0.03)  # the round's deliveries take 30 ms
    assert hub.head == 1
    waiters = _waiting(hub, 1, WAITERS)
    await asyncio.sleep(0)
    back = loop.time()
    assert all(await asyncio.gather(*waiters))
    assert hub.head == 2
    round_s = back - revealed
    # Revealed about one round's duration after the round ended, and no
    # later than the cap after the round began.
    held_s = loop.time() - back
    assert held_s >= min(round_s, revealed + LINGER_MAX_S - back) - 0.005
    assert loop.time() - revealed <= LINGER_MAX_S + 0.05


async def test_a_round_whose_waiters_never_return_is_capped() -> None:
    loop = asyncio.get_running_loop()
    hub = _hub()
    revealed, waiters = await _publish_to_waiters(hub, 1)
    await asyncio.gather(*waiters)
    hub.publish([_entry(2)])
    late = _waiting(hub, 1, 1)  # one stream out of many comes back
    assert await late[0]
    assert hub.head == 2
    assert LINGER_MAX_S - 0.01 <= loop.time() - revealed <= LINGER_MAX_S + 0.1


async def test_after_quick_rounds_waiters_that_leave_hold_the_next_events_briefly() -> None:
    loop = asyncio.get_running_loop()
    hub = _hub()
    _, waiters = await _publish_to_waiters(hub, 1)
    await asyncio.gather(*waiters)
    # Every stream back at once: a quick round.
    _, waiters = await _publish_to_waiters(hub, 2)
    assert all(await asyncio.gather(*waiters))
    # This round's waiters leave (their calls ended) instead of waiting again.
    started = loop.time()
    hub.publish([_entry(3)])
    assert hub.head == 2
    while hub.head < 3:
        await asyncio.sleep(0.001)
    assert loop.time() - started <= ROUND_CAP_MIN_S + 0.04 < LINGER_MAX_S


async def test_after_a_capped_round_busy_subscriptions_hold_back_the_next_events() -> None:
    loop = asyncio.get_running_loop()
    hub = _hub()
    for _ in range(WAITERS):
        hub.attach(_Follower())
    _, waiters = await _publish_to_waiters(hub, 1)
    await asyncio.gather(*waiters)
    hub.publish([_entry(2)])
    while hub.head < 2:  # the round's streams never come back: capped
        await asyncio.sleep(0.005)
    capped = loop.time()
    hub.publish([_entry(3)])
    assert hub.head == 2, "the subscriptions are still busy with the last round"
    while hub.head < 3:
        await asyncio.sleep(0.005)
    assert loop.time() - capped >= LINGER_MAX_S - 0.01


async def _spin(until: Callable[[], bool]) -> None:
    """Keeps the CPU busy, letting the loop run every millisecond."""
    while not until():
        stop = time.perf_counter() + 0.001
        while time.perf_counter() < stop:
            pass
        await asyncio.sleep(0)


async def _gaps(hub: EventHub, busy: list[bool], round_s: float = 0.04) -> list[float]:
    """Runs a large round per entry of `busy`, each spinning the CPU for
    `round_s` (its deliveries), and returns how long each one held the next
    event back after its waiters came back; the CPU spins during the gaps
    marked busy too."""
    loop = asyncio.get_running_loop()
    _, waiters = await _publish_to_waiters(hub, 1)
    await asyncio.gather(*waiters)
    gaps = []
    for sequence, spin in enumerate(busy, start=2):
        hub.publish([_entry(sequence)])
        delivered = loop.time() + round_s
        await _spin(lambda: loop.time() >= delivered)  # noqa: B023
        waiters = _waiting(hub, sequence - 1, WAITERS)
        await asyncio.sleep(0)
        back = loop.time()
        if spin:
            await _spin(lambda: hub.head >= sequence)  # noqa: B023
        assert all(await asyncio.gather(*waiters))
        gaps.append(loop.time() - back)
    return gaps


async def test_a_gap_left_idle_shortens_the_next_one() -> None:
    hub = _hub()
    gaps = await _gaps(hub, [False, False, False])
    first, *later = gaps
    assert first >= 0.035, "the first gap is as long as the round"
    assert hub.gap == GAP_MIN
    assert 0.035 <= hub.round_s < LINGER_MAX_S
    for gap in later:
        assert GAP_MIN * 0.04 - 0.005 <= gap < 0.5 * first


async def test_gaps_the_process_keeps_busy_lengthen_the_next_ones() -> None:
    hub = _hub()
    gaps = await _gaps(hub, [False] + [True] * 8)
    assert hub.gap > 2 * GAP_MIN
    short, *_, longer = gaps[1:]
    # Each busy gap scales the next by about 1 / GAP_BUSY, from GAP_MIN of
    # the round up to GAP_MAX.
    assert longer > 1.5 * short


class _Follower:
    cursor = 0
