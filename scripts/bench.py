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
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from benchkit.client import channels, postgres_database, taskplane_server
from benchkit.loads import Plan, Rate, create_tasks, empty_unary, end_to_end, get_tasks
from benchkit.procs import (
    Child,
    busy_cores,
    load_average,
    pin_self_to_client_core,
    python_module,
    revision,
)
from benchkit.report import Report
from benchkit.streams import bare_stream, fanout

from server import event_loop

CELERY_SPEC = "celery[redis]==5.7.0"
SECTIONS = ("baseline", "create", "e2e-sqlite", "e2e-postgres", "celery", "fanout")


def rate_fields(rate: Rate) -> dict[str, Any]:
    return {
        "per_s": round(rate.per_s, 1),
        "count": rate.count,
        "seconds": round(rate.seconds, 3),
        "server_cpu": round(rate.server_cpu, 3),
        "client_cpu": round(rate.client_cpu, 3),
        "other_cpu": round(rate.other_cpu, 3),
        "errors": rate.errors,
    }


async def baseline(plan: Plan) -> dict[str, Any]:
    found: dict[str, Any] = {}
    async with bare_server() as (server, address):
        found["empty_unary"] = await bare_empty_unary(plan, server, address)
        found["stream_1"] = await bare_stream(plan, server, address, 1)
        found["stream_fanout"] = await bare_stream(plan, server, address, plan.subscribers)
    if event_loop.running() != "asyncio":
        # For reference: the same server on asyncio's own loop.
        async with bare_server("asyncio") as (server, address):
            found["empty_unary_asyncio"] = await bare_empty_unary(plan, server, address)
    return found


@contextlib.asynccontextmanager
async def bare_server(loop: str = "auto") -> AsyncIterator[tuple[Child, str]]:
    server = Child(python_module("benchkit.bare", f"--event-loop={loop}"), pin_server_core=True)
    try:
        port = json.loads(await asyncio.to_thread(server.readline, 30))["port"]
        yield server, f"127.0.0.1:{port}"
    finally:
        server.stop()


async def bare_empty_unary(plan: Plan, server: Child, address: str) -> dict[str, Any]:
    bare = [grpc.aio.insecure_channel(address) for _ in range(plan.channels)]
    try:
        return rate_fields(await empty_unary(bare, plan.concurrency, plan.window, server.pid))
    finally:
        for channel in bare:
            await channel.close()


async def create(plan: Plan) -> dict[str, Any]:
    """CreateTask, then GetTask, each round right after the bare empty unary
    (both servers up, one idle while the other is measured), for
    `plan.comparison_rounds` rounds: the median round's ratio keeps the
    VM's drift out (see `e2e_sqlite_and_celery`)."""
    bares: list[dict[str, Any]] = []
    creates: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    async with bare_server() as (bare, address):
        with taskplane_server() as server:
            async with channels(server.address, server.api_key, plan.channels) as apis:
                pid = server.child.pid
                for _ in range(plan.comparison_rounds):
                    bares.append(await bare_empty_unary(plan, bare, address))
                    created = await create_tasks(apis, plan.concurrency, plan.window, pid)
                    creates.append(rate_fields(created))
                    read = await get_tasks(apis, plan.concurrency, plan.window, pid)
                    reads.append(rate_fields(read))
    return {
        **_rounds(creates),
        **_ratios(creates, bares),
        "bare_rounds": [run["per_s"] for run in bares],
        "get_task": {**_rounds(reads), **_ratios(reads, bares)},
    }


def _rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (the lower middle of an even count), with
    every round's rate."""
    ranked = sorted(runs, key=lambda run: float(run["per_s"]))
    return {**ranked[(len(ranked) - 1) // 2], "rounds": [run["per_s"] for run in runs]}


def _ratios(runs: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> dict[str, Any]:
    """Each round's rate over its baseline's, and their median."""
    ratios = sorted(run["per_s"] / base["per_s"] for run, base in zip(runs, baselines, strict=True))
    return {
        "round_ratios": [round(ratio, 3) for ratio in ratios],
        "median_ratio": round(ratios[(len(ratios) - 1) // 2], 3),
    }


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
            *("python", "-m", "benchkit.celery_run"),
            *(f"--tasks={tasks}", f"--broker={broker}"),
            *(f"--pool={pool}", f"--concurrency={concurrency}"),
        ]
        child = Child(command)
        try:
            stdout, _ = child.process.communicate(timeout=150)
        finally:
            child.stop()
        if child.process.returncode != 0:
            raise RuntimeError(f"celery run ({pool}) exited with {child.process.returncode}")
        found = json.loads(stdout.decode().strip().splitlines()[-1])
        found["server_cpu"] = round(found["worker_cpu_s"] / found["seconds"], 3)
        found["client_cpu"] = round(found["client_cpu_s"] / found["seconds"], 3)
        other = found["machine_cpu_s"] - found["worker_cpu_s"] - found["client_cpu_s"]
        found["other_cpu"] = round(max(other, 0.0) / found["seconds"], 3)
        runs.append(found)
    best = max(runs, key=lambda run: float(run["per_s"]))
    return {
        "per_s": round(best["per_s"], 1),
        "best": f"{best['pool']} --concurrency={best['concurrency']}",
        "server_cpu": best["server_cpu"],
        "client_cpu": best["client_cpu"],
        "other_cpu": best["other_cpu"],
        "runs": runs,
    }


async def e2e_sqlite_and_celery(report: Report, plan: Plan, redis: str) -> None:
    """End to end on SQLite, then Celery at once on as many tasks, for
    `plan.comparison_rounds` rounds. The VM's speed drifts over tens of
    seconds; comparing each round's two runs, taken seconds apart, and
    reporting the median round keeps the drift out of the ratio."""
    e2e_runs: list[dict[str, Any]] = []
    celery_runs: list[dict[str, Any]] = []
    for _ in range(plan.comparison_rounds):
        await section(report, "e2e-sqlite", lambda: e2e(plan))
        done = report.results.get("e2e-sqlite", {})
        if "error" in done:
            return
        if "per_s" in done:
            e2e_runs.append(done)
        tasks = int(done.get("count") or 1000)
        await section(
            report, "celery", functools.partial(asyncio.to_thread, celery, plan, tasks, redis)
        )
        if "error" in report.results.get("celery", {}):
            return
        if "celery" in report.results:
            celery_runs.append(report.results["celery"])
    if e2e_runs:
        report.results["e2e-sqlite"] = _rounds(e2e_runs)
    if celery_runs:
        # Celery's median run, with each round's end-to-end rate over its own.
        paired = len(e2e_runs) == len(celery_runs)
        report.results["celery"] = {
            **_rounds(celery_runs),
            **(_ratios(e2e_runs, celery_runs) if paired else {}),
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
    if args.subscribers is not None:
        plan = dataclasses.replace(plan, subscribers=args.subscribers)
    if args.fanout_rate is not None:
        plan = dataclasses.replace(plan, fanout_rate=args.fanout_rate)
    report = Report(
        started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        machine={
            "cores": os.cpu_count(),
            "pinned": pin_self_to_client_core(),
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
            # Every server and load generator of the run uses this loop.
            "event_loop": event_loop.running(),
            "kernel": platform.release(),
            "revision": revision(),
        },
        plan=dataclasses.asdict(plan),
        skipped=set(args.skip),
    )
    background = busy_cores(1.0)
    report.machine["busy_cores_before"] = round(background, 2)
    report.machine["load_average_before"] = load_average()
    if background > 0.3:
        print(
            f"bench: warning: the machine is already busy ({background:.2f} cores in use); "
            "the figures will be skewed",
            file=sys.stderr,
        )
    await section(report, "baseline", lambda: baseline(plan))
    await section(report, "create", lambda: create(plan))
    await e2e_sqlite_and_celery(report, plan, args.redis)
    await section(report, "e2e-postgres", lambda: e2e_postgres(plan, args.postgres))
    await section(report, "fanout", lambda: fanout(plan))
    report.machine["load_average_after"] = load_average()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS)
    parser.add_argument(
        "--subscribers",
        type=int,
        help="streams of the fan-out sections (default 1,000; the targets are judged at 1,000)",
    )
    parser.add_argument(
        "--fanout-rate",
        type=float,
        help="events/s the fan-out publisher plans (default 1,000, as the latency target)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL admin DSN; a fresh database is created and dropped there",
    )
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/15", help="Celery broker and result db (flushed)"
    )
    args = parser.parse_args()
    report = event_loop.run(main_async(args))
    print(report.table())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    # Missed targets are findings; a section that could not run is a failure.
    return 1 if any("error" in found for found in report.results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
