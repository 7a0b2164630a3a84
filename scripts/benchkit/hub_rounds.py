"""The hub's own cost of a fan-out, without gRPC: CPU time per stream and
delivery round of the event hub and its subscriptions, in one process.

    scripts/bench-hub [--streams N] [--rounds N] [--events N]

Subscriptions with no filter follow one hub, each consumed by a loop that
only counts batches (what the servicer would hand to gRPC); events are
published in rounds, the next once every stream received the last (the
hub reveals it as it paces rounds). Reported: process CPU time / (streams x
rounds). It leaves out the transport (about two thirds of a served fan-out's
CPU), so that changes to the hub and subscriptions show on a noisy machine."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, cast

from server import event_loop
from server.api.events import encode_batch
from server.events.filters import EventFilter
from server.events.hub import EventHub, LogEntry
from server.events.subscription import Batch, Subscription
from taskplane.v1 import events_pb2


def _entry(sequence: int) -> LogEntry:
    event = events_pb2.Event(sequence=sequence, type="task.created", workspace_id="wsp_bench")
    event.task_created.task.id = f"tsk_{sequence}"
    return LogEntry(sequence, event, event.SerializeToString())


async def measure(streams: int, rounds: int, events: int) -> tuple[float, str]:
    """Microseconds of CPU per stream and round, and the loop that ran."""
    # Publishing and following the buffer never touch the store.
    hub = EventHub(database=cast(Any, None), event_log=cast(Any, None))
    received = 0
    round_delivered = asyncio.Event()
    wanted = streams

    async def consume(subscription: Subscription) -> None:
        nonlocal received
        async for item in subscription:
            if isinstance(item, Batch):
                received += 1
                if received >= wanted:
                    round_delivered.set()

    every_event = EventFilter(workspace_id="wsp_bench")
    subscriptions = [
        Subscription(
            hub,
            cast(Any, None),
            cast(Any, None),
            every_event,
            after=0,
            batch_size=500,
            heartbeat_interval_s=5.0,
            encode=encode_batch,
        )
        for _ in range(streams)
    ]
    consumers = [asyncio.create_task(consume(s)) for s in subscriptions]
    await asyncio.sleep(0.05)
    sequence = 0
    started = time.process_time()
    for done in range(1, rounds + 1):
        hub.publish([_entry(sequence + offset) for offset in range(1, events + 1)])
        sequence += events
        # The hub paces rounds: the next one is revealed a while after this
        # one is delivered (idle time, which CPU time leaves out).
        wanted = done * streams
        await round_delivered.wait()
        round_delivered.clear()
    elapsed = time.process_time() - started
    for consumer in consumers:
        consumer.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    return elapsed / (streams * rounds) * 1e6, event_loop.running()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--events", type=int, default=20, help="events per round")
    args = parser.parse_args()
    per_stream, loop = event_loop.run(measure(args.streams, args.rounds, args.events))
    print(
        f"hub and subscriptions, {args.streams} streams, {args.events} events per round: "
        f"{per_stream:.2f} us CPU per stream and round (loop: {loop})"
    )


if __name__ == "__main__":
    main()
