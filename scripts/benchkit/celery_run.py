"""The Celery comparison: no-op tasks through a local Redis broker with results
stored in Redis, timed from the first send to the last result received.

Celery is not a project dependency; `scripts/bench` runs this module with
`uv run --with 'celery[redis]==X'`:

    python -m benchkit.celery_run --tasks N --broker redis://127.0.0.1:6379/15

It flushes the Redis database before and after, starts a worker pinned to
core 0 in its own process group (prefork pool: Celery's default and what a
user would run), warms it up, sends N `noop` tasks with `delay()` and waits
for every `AsyncResult.get()`, then stops the worker. The last line printed is
the JSON result. Celery is imported dynamically so that this module type-checks
without it installed."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from typing import IO, Any

from benchkit.procs import DEVNULL, Child, machine_cpu_seconds, python_module

QUEUE = "bench"
BROKER_ENV = "BENCH_CELERY_BROKER"


def _noop() -> None:
    return None


def make_app(broker: str) -> Any:
    celery: Any = importlib.import_module("celery")
    app = celery.Celery("benchkit", broker=broker, backend=broker)
    app.conf.update(
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        result_expires=600,
    )
    app.task(name="bench.noop")(_noop)
    return app


#: The worker's `-A benchkit.celery_run` target.
app = make_app(os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/15"))


def _flush(broker: str) -> None:
    redis: Any = importlib.import_module("redis")
    redis.Redis.from_url(broker).flushdb()


def _wait_results(results: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for result in results:
        result.get(timeout=max(0.1, deadline - time.monotonic()), propagate=True)


def run(
    tasks: int, warmup: int, broker: str, pool: str, concurrency: int, log: IO[bytes]
) -> dict[str, Any]:
    _flush(broker)
    worker = Child(
        python_module(
            "celery",
            "-A",
            "benchkit.celery_run",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--queues={QUEUE}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ),
        env={BROKER_ENV: broker},
        pin_server_core=True,
        stdout=DEVNULL,
        stderr=log,
    )
    noop = app.tasks["bench.noop"]
    try:
        noop.delay().get(timeout=60)
        _wait_results([noop.delay() for _ in range(warmup)], 60)
        cpu0, started = worker.cpu_seconds(), time.perf_counter()
        client0, machine0 = sum(os.times()[:2]), machine_cpu_seconds()
        results = [noop.delay() for _ in range(tasks)]
        sent = time.perf_counter() - started
        _wait_results(results, 120)
        seconds = time.perf_counter() - started
        cpu1 = worker.cpu_seconds()
        client1, machine1 = sum(os.times()[:2]), machine_cpu_seconds()
    finally:
        worker.stop()
        _flush(broker)
    celery: Any = importlib.import_module("celery")
    return {
        "tasks": tasks,
        "seconds": seconds,
        "send_seconds": sent,
        "per_s": tasks / seconds,
        "worker_cpu_s": cpu1 - cpu0,
        "client_cpu_s": client1 - client0,
        "machine_cpu_s": machine1 - machine0,
        "pool": pool,
        "concurrency": concurrency,
        "celery_version": str(celery.__version__),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    os.environ[BROKER_ENV] = args.broker
    global app
    app = make_app(args.broker)
    with tempfile.TemporaryFile() as log:
        try:
            result = run(args.tasks, args.warmup, args.broker, args.pool, args.concurrency, log)
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
