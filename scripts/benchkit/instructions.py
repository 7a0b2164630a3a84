"""Server CPU instructions per call, counted by valgrind's callgrind: a
measure that, unlike time, does not move with whatever else the machine is
doing, for comparing two revisions of the server on a noisy machine.

    scripts/bench-instructions [--calls N] [--source DIR] [--only NAME ...]

Each server (the bare grpcio one, then Taskplane on SQLite from DIR, by
default this checkout) runs under callgrind with instrumentation off; after
a warm-up the client turns it on (`callgrind_control -i on`), makes the
calls, and turns it off, so that start-up is not counted. Reported per call
or per task: the bare empty unary, CreateTask, GetTask (of 256 tasks
created first), and a task's whole life (CreateTask, its share of an
AcquireTasks of 16, CompleteTask); `--only get` is not run by default. The loads
are closed loops of 64 calls in flight. Background work of the server (the
reaper, readiness checks) runs meanwhile and is counted too; under callgrind
a call takes about 50 times longer, so compare figures of this tool only
with each other. Needs `valgrind` (Debian package)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from google.protobuf import duration_pb2, empty_pb2, struct_pb2

from benchkit.bare import empty_methods
from benchkit.client import Api, channels
from benchkit.loads import new_task, register_agent, tasks_to_read
from benchkit.procs import child_env, free_port
from taskplane.v1 import agents_pb2, tasks_pb2

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 64


class Counted:
    """A server process under callgrind, instrumentation off until `counting`."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], out: Path) -> None:
        self._out = out
        self._log = out.with_suffix(".log")
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            *argv,
        ]
        with self._log.open("w") as log:
            self.process = subprocess.Popen(  # nosec B603
                command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log
            )

    def _control(self, *command: str) -> None:
        subprocess.run(  # nosec B603 B607
            ["callgrind_control", *command, str(self.process.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def counting(self, load: Callable[[], Awaitable[int]]) -> float:
        """Runs `load` (which returns how many units it did) with counting on,
        dumps the counts, stops the server, and returns instructions per unit."""
        self._control("-i", "on")
        units = await load()
        self._control("-i", "off")
        self._control("--dump")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        dumps = sorted(self._out.parent.glob(self._out.name + ".*"))
        totals = [_totals(dump) for dump in dumps if dump.suffix != ".log"]
        if not totals:
            raise RuntimeError(f"callgrind wrote no dump; see {self._log}")
        return totals[0] / units


def _totals(dump: Path) -> int:
    found = re.search(r"^totals: (\d+)", dump.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {dump}")
    return int(found.group(1))


async def closed_loop(count: int, call: Callable[[int], Awaitable[object]]) -> int:
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            await call(number)

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return count


async def bare(calls: int, work: Path) -> float:
    server = Counted(
        [sys.executable, "-m", "benchkit.bare"], ROOT / "scripts", child_env(), work / "bare.out"
    )
    stdout = server.process.stdout
    if stdout is None:
        raise RuntimeError("the bare server has no stdout pipe")
    line = await asyncio.to_thread(stdout.readline)
    port = json.loads(line)["port"]
    opened = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(4)]
    stubs = empty_methods(opened)

    async def call(number: int) -> object:
        return await stubs[number % 4](empty_pb2.Empty())

    try:
        await closed_loop(300, call)
        return await server.counting(lambda: closed_loop(calls, call))
    finally:
        for channel in opened:
            await channel.close()


async def taskplane(kind: str, calls: int, source: Path, work: Path) -> float:
    data_dir = Path(tempfile.mkdtemp(prefix="taskplane-instr-", dir=work))
    address = f"127.0.0.1:{free_port()}"
    env = child_env(
        {
            "TASKPLANE_LISTEN_ADDRESS": address,
            "TASKPLANE_DATA_DIR": str(data_dir),
            "TASKPLANE_LOG_LEVEL": "warning",
        }
    )
    server = Counted([sys.executable, "-m", "server"], source, env, work / f"taskplane-{kind}.out")
    key_file = data_dir / "admin.key"
    deadline = time.monotonic() + 300
    while not (key_file.exists() and key_file.read_text().strip()):
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start; see {work}")
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    async with channels(address, key_file.read_text().strip(), 4) as apis:
        if kind == "create":

            async def create(number: int) -> object:
                return await apis[number % 4].tasks.CreateTask(new_task("bench.create", number))

            await closed_loop(300, create)
            return await server.counting(lambda: closed_loop(calls, create))
        if kind == "get":
            ids = await tasks_to_read(apis[0])

            async def get(number: int) -> object:
                request = tasks_pb2.GetTaskRequest(task_id=ids[number % len(ids)])
                return await apis[number % 4].tasks.GetTask(request)

            await closed_loop(300, get)
            return await server.counting(lambda: closed_loop(calls, get))
        agent_id = await register_agent(apis[0], "bench.e2e", "bench", 10_000)
        await task_lives(apis, agent_id, 128)
        return await server.counting(lambda: task_lives(apis, agent_id, calls))


async def task_lives(apis: list[Api], agent_id: str, count: int) -> int:
    """`count` tasks created, acquired 16 at a time and completed, 64 at once."""
    result = struct_pb2.Struct()
    result["ok"] = True
    acquire = agents_pb2.AcquireTasksRequest(
        agent_id=agent_id, max_tasks=16, wait=duration_pb2.Duration()
    )
    for start in range(0, count, IN_FLIGHT):
        numbers = range(start, min(count, start + IN_FLIGHT))
        await asyncio.gather(
            *(apis[n % 4].tasks.CreateTask(new_task("bench.e2e", n)) for n in numbers)
        )
        leases: list[agents_pb2.Lease] = []
        while len(leases) < len(numbers):
            leases += (await apis[0].agents.AcquireTasks(acquire)).leases
        await asyncio.gather(
            *(
                apis[n % 4].agents.CompleteTask(
                    agents_pb2.CompleteTaskRequest(
                        lease=agents_pb2.LeaseRef(task_id=lease.task.id, lease_id=lease.lease_id),
                        result=result,
                    )
                )
                for n, lease in enumerate(leases)
            )
        )
    return count


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="calls (or tasks) counted")
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout whose server runs")
    parser.add_argument("--only", action="append", choices=["bare", "create", "get", "task"])
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("bench-instructions: valgrind is not installed", file=sys.stderr)
        return 2
    wanted = args.only or ["bare", "create", "task"]
    with tempfile.TemporaryDirectory(prefix="taskplane-instr-") as tmp:
        work = Path(tmp)
        for name in wanted:
            if name == "bare":
                per = await bare(args.calls, work)
                label = "bare grpcio: empty unary, per call"
            else:
                per = await taskplane(name, args.calls, args.source.resolve(), work)
                label = {
                    "create": "Taskplane CreateTask, per call",
                    "get": "Taskplane GetTask, per call",
                }.get(name, "Taskplane task (create, 1/16 acquire, complete), per task")
            print(f"{label:60s} {per / 1000:10,.0f} k instructions", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
