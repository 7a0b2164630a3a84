"""Taskplane benchmarks, reported as ratios against a bare-grpcio baseline
measured in the same run (docs/benchmarks.md explains the method).

Servers (the bare one, Taskplane, the Celery worker) run pinned to core 0;
this process and every load generator run on core 1. Everything listens on
127.0.0.1 and every loop is bounded in time.

    scripts/bench [--quick] [--json PATH] [--skip NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from benchkit.client import channels, head_sequence, postgres_database, taskplane_server
from benchkit.loads import Rate, Window, create_tasks, empty_unary, end_to_end, publish
from benchkit.procs import Child, pin_self_to_client_core, python_module
from benchkit.report import Report
from benchkit.subscribers import BUCKET_US

CELERY_SPEC = "celery[redis]==5.7.0"
SECTIONS = ("baseline", "create", "e2e-sqlite", "e2e-postgres", "celery", "fanout")


@dataclasses.dataclass(frozen=True)
class Plan:
    window: Window
    concurrency: int = 64
    channels: int = 4
    subscribers: int = 1000
    subscriber_processes: int = 4
    fanout_rate: float = 1000.0
    fanout_s: float = 5.0
    agents: int = 8
    max_tasks: int = 16
    producers: int = 16
    celery_pools: tuple[tuple[str, int], ...] = (("prefork", 2), ("solo", 1))

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(Window(0.5, 2.0), fanout_s=2.0, celery_pools=(("prefork", 2),))
        return cls(Window(1.0, 5.0))


def rate_fields(rate: Rate) -> dict[str, Any]:
    return {
        "per_s": round(rate.per_s, 1),
        "count": rate.count,
        "seconds": round(rate.seconds, 3),
        "server_cpu": round(rate.server_cpu, 3),
        "client_cpu": round(rate.client_cpu, 3),
        "errors": rate.errors,
    }


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
            stdin=subprocess.PIPE,
        )
        for i in range(processes)
    ]


async def ready(children: list[Child], timeout: float = 90.0) -> None:
    for child in children:
        line = await asyncio.to_thread(child.readline, timeout)
        if line != "ready":
            raise RuntimeError(f"subscriber said {line!r}")


async def results(children: list[Child], timeout: float) -> list[dict[str, Any]]:
    found = []
    for child in children:
        found.append(json.loads(await asyncio.to_thread(child.readline, timeout)))
    return found


async def bare_stream(plan: Plan, server: Child, address: str, streams: int) -> dict[str, Any]:
    children = start_subscribers(plan, "bare", address, streams)
    try:
        await ready(children)
        t0 = time.time() + plan.window.warmup_s
        t1 = t0 + plan.window.duration_s
        for child in children:
            child.send(f"window {t0} {t1}")
        await asyncio.sleep(max(0.0, t0 - time.time()))
        cpu0 = server.cpu_seconds()
        await asyncio.sleep(max(0.0, t1 - time.time()))
        cpu1 = server.cpu_seconds()
        found = await results(children, 30)
    finally:
        for child in children:
            child.stop()
    count = sum(int(r["count"]) for r in found)
    seconds = t1 - t0
    return {
        "per_s": round(count / seconds, 1),
        "count": count,
        "seconds": seconds,
        "server_cpu": round((cpu1 - cpu0) / seconds, 3),
        "client_cpu": round(sum(float(r["cpu_s"]) for r in found) / seconds, 3),
        "subscribers": streams,
        "client_processes": len(children),
    }


async def baseline(plan: Plan) -> dict[str, Any]:
    server = Child(python_module("benchkit.bare"), pin_server_core=True)
    try:
        port = json.loads(await asyncio.to_thread(server.readline, 30))["port"]
        address = f"127.0.0.1:{port}"
        bare = [grpc.aio.insecure_channel(address) for _ in range(plan.channels)]
        try:
            unary = await empty_unary(bare, plan.concurrency, plan.window, server.pid)
        finally:
            for channel in bare:
                await channel.close()
        return {
            "empty_unary": rate_fields(unary),
            "stream_1": await bare_stream(plan, server, address, 1),
            "stream_fanout": await bare_stream(plan, server, address, plan.subscribers),
        }
    finally:
        server.stop()


async def create(plan: Plan) -> dict[str, Any]:
    with taskplane_server() as server:
        async with channels(server.address, server.api_key, plan.channels) as apis:
            rate = await create_tasks(apis, plan.concurrency, plan.window, server.child.pid)
    return rate_fields(rate)


async def e2e(plan: Plan, database_url: str = "") -> dict[str, Any]:
    with taskplane_server(database_url) as server:
        async with channels(server.address, server.api_key, plan.channels) as apis:
            rate = await end_to_end(
                apis,
                plan.window,
                server.child.pid,
                agents=plan.agents,
                max_tasks=plan.max_tasks,
                producers=plan.producers,
            )
    return rate_fields(rate)


async def e2e_postgres(plan: Plan, admin_url: str) -> dict[str, Any]:
    async with postgres_database(admin_url) as url:
        found = await e2e(plan, url)
    found["note"] = "PostgreSQL's own processes are not pinned (they float over both cores)"
    return found


def uv_command() -> list[str]:
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def celery(plan: Plan, tasks: int, broker: str) -> dict[str, Any]:
    runs = []
    for pool, concurrency in plan.celery_pools:
        command = [
            *uv_command(),
            *("run", "--frozen", "--no-sync", "--quiet", "--with", CELERY_SPEC),
            *python_module("benchkit.celery_run"),
            *(f"--tasks={tasks}", f"--broker={broker}"),
            *(f"--pool={pool}", f"--concurrency={concurrency}"),
        ]
        child = Child(command)
        try:
            stdout, _ = child.process.communicate(timeout=240)
        finally:
            child.stop()
        if child.process.returncode != 0:
            raise RuntimeError(f"celery run ({pool}) exited with {child.process.returncode}")
        found = json.loads(stdout.decode().strip().splitlines()[-1])
        found["worker_cpu"] = round(found["worker_cpu_s"] / found["seconds"], 3)
        runs.append(found)
    best = max(runs, key=lambda run: float(run["per_s"]))
    return {
        "per_s": round(best["per_s"], 1),
        "best": f"{best['pool']} x{best['concurrency']}",
        "runs": runs,
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
    with taskplane_server() as server:
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
                cpu0 = server.child.cpu_seconds()
                sent = await publish(apis, plan.fanout_rate, plan.fanout_s)
                head = await head_sequence(apis[0])
                for child in children:
                    child.send(f"drain {head} 30")
                found = await results(children, 60)
                cpu1 = server.child.cpu_seconds()
            finally:
                for child in children:
                    child.stop()
    histogram: dict[int, int] = {}
    for result in found:
        for bucket, count in result["histogram"].items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + count
    deliveries = sum(int(r["count"]) for r in found)
    last_us = max(int(r["last_us"]) for r in found)
    seconds = last_us / 1e6 - sent.started
    expected = sent.sent * plan.subscribers
    return {
        "memory": {
            "rss_before_kib": rss0,
            "rss_after_kib": rss1,
            "per_subscriber_kib": round((rss1 - rss0) / plan.subscribers, 2),
        },
        "published": sent.sent,
        "publish_failed": sent.failed,
        "publish_rate": round(sent.sent / sent.seconds, 1),
        "deliveries": deliveries,
        "complete": round(deliveries / expected, 4) if expected else 0.0,
        "streams_caught_up": sum(int(r["done_streams"]) for r in found),
        "seconds": round(seconds, 3),
        "per_s": round(deliveries / seconds, 1),
        "latency_ms": {
            "p50": percentile(histogram, 0.50),
            "p99": percentile(histogram, 0.99),
            "max": percentile(histogram, 1.0),
        },
        "server_cpu": round((cpu1 - cpu0) / seconds, 3),
        "client_cpu": round(sum(float(r["cpu_s"]) for r in found) / seconds, 3),
        "client_processes": len(children),
    }


async def section(report: Report, name: str, run: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    if name in report.skipped:
        return
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        report.results[name] = await run()
    except Exception as error:  # one failed section should not lose the others
        report.results[name] = {"error": f"{type(error).__name__}: {error}"}
    report.results[name]["elapsed_s"] = round(time.monotonic() - started, 1)


async def main_async(args: argparse.Namespace) -> Report:
    plan = Plan.of(args.quick)
    report = Report(
        started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        machine={
            "cores": os.cpu_count(),
            "pinned": pin_self_to_client_core(),
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
            "kernel": platform.release(),
        },
        plan=dataclasses.asdict(plan),
        skipped=set(args.skip),
    )
    await section(report, "baseline", lambda: baseline(plan))
    await section(report, "create", lambda: create(plan))
    await section(report, "e2e-sqlite", lambda: e2e(plan))
    await section(report, "e2e-postgres", lambda: e2e_postgres(plan, args.postgres))
    done = report.results.get("e2e-sqlite", {}).get("count") or 1000
    await section(report, "celery", lambda: asyncio.to_thread(celery, plan, int(done), args.redis))
    await section(report, "fanout", lambda: fanout(plan))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL admin DSN; a fresh database is created and dropped there",
    )
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/15", help="Celery broker and result db (flushed)"
    )
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(report.table())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
