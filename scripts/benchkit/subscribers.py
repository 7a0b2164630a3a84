"""A subscriber process: many concurrent server streams in one event loop.

    python -m benchkit.subscribers --mode bare|taskplane --address A --streams N

It opens its streams and prints `ready` once every stream is established,
then obeys one command read from stdin, writes its result as JSON to the
file the command names last, and prints `done`:

- `window T0 T1 PATH` (bare): messages received between wall-clock times T0 and T1.
- `drain SEQ TIMEOUT PATH` (taskplane): reads until every stream has seen event
  sequence SEQ, or TIMEOUT seconds; reports deliveries, the first and last
  receive times and a histogram of commit-to-delivery latency (receive time
  minus `Event.time`) in 0.1 ms buckets over every event delivered to the
  sampled streams.

Taskplane streams start with START_POSITION_NOW, so they are idle until
events come. One stream in `--sample-every` decodes each event's sequence
and commit time (`Timed`) and records its latency; the others read events
as bytes, count them and decode the last one's sequence (`Counted`), so
that the client's own decoding does not become the bottleneck of a fan-out
to 1,000 streams. Calls carry the API key as call metadata on a plain
channel, as the bare streams do: no client interceptors.
The process exits on its own when stdin closes or after `--max-lifetime`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    empty_pb2,
    message_factory,
    timestamp_pb2,
)

from benchkit.bare import STREAM_METHOD
from server import event_loop
from taskplane.v1 import events_pb2

BUCKET_US = 100
MAX_BUCKET = 600_000  # 60 s
SUBSCRIBE = "/taskplane.v1.EventService/Subscribe"


def _partial_messages(name: str, kept: tuple[str, ...], *, raw_events: bool = False) -> Any:
    """Message classes that read a SubscribeResponse's batch as events with
    only the `kept` fields of Event (the others are skipped as unknown), or,
    with `raw_events`, as each event's undecoded bytes. Each message keeps
    fields of the real message it stands for, copied from its descriptor.
    Returns (the response class, the event class)."""
    file = descriptor_pb2.FileDescriptorProto(
        name=f"benchkit/{name}.proto",
        package="benchkit",
        syntax="proto3",
        dependency=[timestamp_pb2.DESCRIPTOR.name],
    )
    layers = (
        (f"{name}Event", events_pb2.Event, kept, ""),
        (f"{name}Batch", events_pb2.EventBatch, ("events",), f".benchkit.{name}Event"),
        (f"{name}Response", events_pb2.SubscribeResponse, ("batch",), f".benchkit.{name}Batch"),
    )
    for message, real, fields, type_name in layers:
        whole = descriptor_pb2.DescriptorProto()
        real.DESCRIPTOR.CopyToProto(whole)
        added = file.message_type.add(name=message)
        for field in whole.field:
            if field.name in fields:
                field.ClearField("oneof_index")
                if raw_events and field.name == "events":
                    field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                    field.ClearField("type_name")
                elif type_name:
                    field.type_name = type_name
                added.field.append(field)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"benchkit.{name}{kind}"))
        for kind in ("Response", "Event")
    )


#: The counting streams read a batch's events as bytes and decode only the
#: last one's sequence; the sampled streams decode each event's sequence and
#: commit time.
Counted, CountedEvent = _partial_messages("Counted", ("sequence",), raw_events=True)
Timed, _ = _partial_messages("Timed", ("sequence", "time"))


@dataclasses.dataclass
class Stats:
    received: int = 0
    messages: int = 0
    first_us: int = 0
    last_us: int = 0
    established: int = 0
    last_sequence: list[int] = dataclasses.field(default_factory=list)
    histogram: list[int] = dataclasses.field(default_factory=lambda: [0] * (MAX_BUCKET + 1))


async def _bare_stream(
    channel: grpc.aio.Channel, stats: Stats, ready: asyncio.Event, total: int
) -> None:
    method = channel.unary_stream(
        STREAM_METHOD,
        request_serializer=empty_pb2.Empty.SerializeToString,
        response_deserializer=timestamp_pb2.Timestamp.FromString,
    )
    call: Any = method(empty_pb2.Empty())
    try:
        await call.initial_metadata()
        stats.established += 1
        if stats.established == total:
            ready.set()
        async for _ in call:
            stats.received += 1
    finally:
        call.cancel()


async def _taskplane_stream(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    stats: Stats,
    ready: asyncio.Event,
    total: int,
    slot: int,
    sampled: bool,
) -> None:
    method = channel.unary_stream(
        SUBSCRIBE,
        request_serializer=events_pb2.SubscribeRequest.SerializeToString,
        response_deserializer=(Timed.FromString if sampled else Counted.FromString),
    )
    request = events_pb2.SubscribeRequest(position=events_pb2.START_POSITION_NOW)
    call: Any = method(request, metadata=metadata)
    histogram, last_sequence = stats.histogram, stats.last_sequence
    try:
        await call.initial_metadata()
        stats.established += 1
        if stats.established == total:
            ready.set()
        async for response in call:
            if not response.HasField("batch"):
                continue
            now_us = time.time_ns() // 1000
            events = response.batch.events
            if sampled:
                for event in events:
                    stamp = event.time
                    latency = now_us - stamp.seconds * 1_000_000 - stamp.nanos // 1000
                    histogram[min(max(latency, 0) // BUCKET_US, MAX_BUCKET)] += 1
                last_sequence[slot] = events[-1].sequence
            else:
                last_sequence[slot] = CountedEvent.FromString(events[-1]).sequence
            stats.received += len(events)
            stats.messages += 1
            if not stats.first_us:
                stats.first_us = now_us
            stats.last_us = now_us
    finally:
        call.cancel()


async def _drained(stats: Stats, target: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and min(stats.last_sequence) < target:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def _command() -> list[str]:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.split()


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Opens the streams, obeys the command; returns the result and where to write it."""
    stats = Stats()
    ready = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if args.mode == "bare":
        bare = [grpc.aio.insecure_channel(args.address) for _ in range(args.channels)]
        close = [channel.close for channel in bare]
        for index in range(args.streams):
            channel = bare[index % len(bare)]
            tasks.append(asyncio.create_task(_bare_stream(channel, stats, ready, args.streams)))
    else:
        metadata = (("authorization", f"Bearer {os.environ['BENCH_API_KEY']}"),)
        plain = [grpc.aio.insecure_channel(args.address) for _ in range(args.channels)]
        close = [channel.close for channel in plain]
        stats.last_sequence = [0] * args.streams
        for index in range(args.streams):
            stream = _taskplane_stream(
                plain[index % len(plain)],
                metadata,
                stats,
                ready,
                args.streams,
                index,
                sampled=index % args.sample_every == 0,
            )
            tasks.append(asyncio.create_task(stream))
    result: dict[str, Any] = {}
    path = ""
    try:
        await asyncio.wait_for(ready.wait(), 60)
        # Streams and stubs are long-lived; each message's garbage is not
        # cyclic: no need to scan the heap every few hundred messages.
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        print("ready", flush=True)
        cpu0 = _cpu()
        command = await _command()
        path = command.pop() if command else ""
        if command and command[0] == "window":
            t0, t1 = float(command[1]), float(command[2])
            await asyncio.sleep(max(0.0, t0 - time.time()))
            count0, cpu0 = stats.received, _cpu()
            await asyncio.sleep(max(0.0, t1 - time.time()))
            result = {"count": stats.received - count0, "seconds": t1 - t0}
        elif command and command[0] == "drain":
            target = int(command[1])
            await _drained(stats, target, float(command[2]))
            sparse = {str(i): n for i, n in enumerate(stats.histogram) if n}
            result = {
                "count": stats.received,
                "messages": stats.messages,
                "first_us": stats.first_us,
                "last_us": stats.last_us,
                "done_streams": sum(seq >= target for seq in stats.last_sequence),
                "histogram": sparse,
            }
        result["cpu_s"] = _cpu() - cpu0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for closing in close:
            await closing()
    return result, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["bare", "taskplane"], required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument(
        "--sample-every", type=int, default=10, help="latency of one stream in N (taskplane)"
    )

    parser.add_argument("--max-lifetime", type=float, default=300.0)
    args = parser.parse_args()
    result, path = event_loop.run(asyncio.wait_for(run(args), args.max_lifetime))
    if path:
        Path(path).write_text(json.dumps(result))
    print("done", flush=True)


if __name__ == "__main__":
    main()
