"""Streaming measurements with subscriber processes (benchkit.subscribers):
the bare-grpcio stream baselines, and Taskplane's memory per idle subscriber
followed by fan-out of a fixed-rate publisher to the same subscribers."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2

from benchkit.bare import GO_METHOD
from benchkit.client import channels, head_sequence, taskplane_server
from benchkit.loads import Plan, publish
from benchkit.procs import PIPE, Child, CpuSample, cpu_shares, python_module
from benchkit.subscribers import BUCKET_US


def start_subscribers(
    plan: Plan, mode: str, address: str, streams: int, key: str = ""
) -> list[Child]:
    processes = min(plan.subscriber_processes, streams)
    return [
        Child(
            python_module(
                "benchkit.subscribers",
                f"--mode={mode}",
                f"--address={address}",
                f"--streams={streams // processes + (i < streams % processes)}",
                f"--channels={plan.channels}",
            ),
            env={"BENCH_API_KEY": key},
            stdin=PIPE,
        )
        for i in range(processes)
    ]


async def ready(children: list[Child], timeout: float = 90.0) -> None:
    for child in children:
        line = await asyncio.to_thread(child.readline, timeout)
        if line != "ready":
            raise RuntimeError(f"subscriber said {line!r}")


async def results(children: list[Child], command: str, timeout: float) -> list[dict[str, Any]]:
    """Sends each child `command` and a file to write its JSON result to (a
    result can be larger than a pipe holds), then reads them back."""
    with tempfile.TemporaryDirectory(prefix="taskplane-bench-") as tmp:
        paths = [Path(tmp) / f"{index}.json" for index in range(len(children))]
        for child, path in zip(children, paths, strict=True):
            child.send(f"{command} {path}")
        for child in children:
            line = await asyncio.to_thread(child.readline, timeout)
            if line != "done":
                raise RuntimeError(f"subscriber said {line!r}")
        return [json.loads(path.read_text()) for path in paths]


async def bare_stream(plan: Plan, server: Child, address: str, streams: int) -> dict[str, Any]:
    children = start_subscribers(plan, "bare", address, streams)
    try:
        await ready(children)
        async with grpc.aio.insecure_channel(address) as channel:
            go = channel.unary_unary(
                GO_METHOD,
                request_serializer=empty_pb2.Empty.SerializeToString,
                response_deserializer=empty_pb2.Empty.FromString,
            )
            await go(empty_pb2.Empty())
        t0 = time.time() + plan.window.warmup_s
        t1 = t0 + plan.window.duration_s
        collecting = asyncio.create_task(results(children, f"window {t0} {t1}", 30 + t1 - t0))
        await asyncio.sleep(max(0.0, t0 - time.time()))
        before = CpuSample.take(server.pid)
        await asyncio.sleep(max(0.0, t1 - time.time()))
        after = CpuSample.take(server.pid)
        found = await collecting
    finally:
        for child in children:
            child.stop()
    count = sum(int(r["count"]) for r in found)
    seconds = t1 - t0
    return {
        "per_s": round(count / seconds, 1),
        "count": count,
        "seconds": seconds,
        **cpu_shares(before, after, sum(float(r["cpu_s"]) for r in found)),
        "subscribers": streams,
        "client_processes": len(children),
    }


def percentile(histogram: dict[int, int], fraction: float) -> float:
    """The latency (ms, bucket upper edge) below which `fraction` of the samples lie."""
    total = sum(histogram.values())
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= fraction * total:
            return (bucket + 1) * BUCKET_US / 1000
    return float("nan")


async def fanout(plan: Plan) -> dict[str, Any]:
    """Memory per idle subscriber, then fan-out of a fixed-rate publisher to
    the same subscribers, on one SQLite server."""
    # The warm-up's and the measured subscriptions must fit under the per-key cap.
    with taskplane_server(max_streams_per_key=str(plan.subscribers + 100)) as server:
        async with channels(server.address, server.api_key, plan.channels) as apis:
            await publish(apis, 200, 0.5)  # warm-up: code paths, caches, the hub
            warm = start_subscribers(plan, "taskplane", server.address, 4, server.api_key)
            await ready(warm)
            for child in warm:
                child.stop()
            await asyncio.sleep(1.0)
            rss0 = server.child.rss_kib()
            children = start_subscribers(
                plan, "taskplane", server.address, plan.subscribers, server.api_key
            )
            try:
                await ready(children)
                await asyncio.sleep(1.0)
                rss1 = server.child.rss_kib()
                before = CpuSample.take(server.child.pid)
                head0 = await head_sequence(apis[0])
                sent = await publish(apis, plan.fanout_rate, plan.fanout_s)
                head = await head_sequence(apis[0])
                found = await results(children, f"drain {head} 30", 60)
                after = CpuSample.take(server.child.pid)
            finally:
                for child in children:
                    child.stop()
    histogram: dict[int, int] = {}
    for result in found:
        for bucket, count in result["histogram"].items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + count
    deliveries = sum(int(r["count"]) for r in found)
    messages = sum(int(r["messages"]) for r in found)
    last_us = max(int(r["last_us"]) for r in found)
    seconds = max(last_us / 1e6 - sent.started, 1e-3) if deliveries else sent.seconds
    expected = (head - head0) * plan.subscribers
    subscribers_cpu_s = sum(float(r["cpu_s"]) for r in found)
    window_s = max(after.wall - before.wall, 1e-9)
    return {
        "memory": {
            "rss_before_kib": rss0,
            "rss_after_kib": rss1,
            "per_subscriber_kib": round((rss1 - rss0) / plan.subscribers, 2),
        },
        "published": sent.sent,
        "publish_failed": sent.failed,
        "publish_rate": round(sent.sent / sent.seconds, 1),
        "events": head - head0,
        "deliveries": deliveries,
        # Responses received: a stream's batches, one per delivery round.
        "messages": messages,
        "events_per_message": round(deliveries / messages, 1) if messages else 0.0,
        # What a delivery round costs the server per stream (publishing included).
        "server_cpu_us_per_message": (
            round((after.server - before.server) / messages * 1e6, 1) if messages else 0.0
        ),
        "complete": round(deliveries / expected, 4) if expected else 0.0,
        "streams_caught_up": sum(int(r["done_streams"]) for r in found),
        "seconds": round(seconds, 3),
        "per_s": round(deliveries / seconds, 1),
        "latency_ms": {
            "p50": percentile(histogram, 0.50),
            "p99": percentile(histogram, 0.99),
            "max": percentile(histogram, 1.0),
        },
        # From the first send until every subscriber reported back.
        **cpu_shares(before, after, subscribers_cpu_s),
        # The client side's share split: the subscriber processes, and this
        # process (the publisher).
        "subscribers_cpu": round(subscribers_cpu_s / window_s, 3),
        "publisher_cpu": round((after.own - before.own) / window_s, 3),
        "client_processes": len(children),
    }
