"""Child processes and what /proc tells about them: pinned starts, CPU time of
a process group, resident memory, and a stop that always ends what it started."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import shutil
import signal
import socket

# The bench starts its own, fixed commands (argv lists, no shell).
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
SERVER_CORE = 0
CLIENT_CORE = 1
_CLK_TCK = os.sysconf("SC_CLK_TCK")
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL


def pin_self_to_client_core() -> bool:
    """The load generator (this process and its non-server children) runs on
    core 1; False when the machine has fewer than two cores."""
    if (os.cpu_count() or 1) < 2:
        return False
    try:
        os.sched_setaffinity(0, {CLIENT_CORE})
    except OSError:
        return False
    return True


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, with `benchkit` importable and TASKPLANE_* cleared."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKPLANE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


class Child:
    """A child process in its own session (so its process group id is its
    pid), optionally pinned to the server core."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        pin_server_core: bool = False,
        stdin: int | None = None,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = None,
    ) -> None:
        command = list(argv)
        if pin_server_core:
            command = ["taskset", "-c", str(SERVER_CORE), *command]
        self.process = subprocess.Popen(  # nosec B603
            command,
            cwd=ROOT,
            env=child_env(env),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        self.pid = self.process.pid
        self._buffer = b""

    def readline(self, timeout: float) -> str:
        """One line of stdout, or TimeoutError (the child is still running)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
            if not ready:
                raise TimeoutError(f"child {self.pid} printed nothing for {timeout} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"child {self.pid} exited with {self.process.wait(5)}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode().strip()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the child's process group, SIGKILL after the timeout."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        # Stragglers of the group (e.g. pool children) after the leader exited.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.pid)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in a process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / _CLK_TCK


def process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every core, every process)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def busy_cores(seconds: float) -> float:
    """How many cores' worth of CPU the whole machine used over a short
    interval (to notice other work that would skew the figures)."""
    before = machine_cpu_seconds()
    time.sleep(seconds)
    return (machine_cpu_seconds() - before) / seconds


@dataclasses.dataclass(frozen=True)
class CpuSample:
    """CPU times at one moment: a server's process group, this process and
    the whole machine."""

    wall: float
    server: float
    own: float
    machine: float

    @classmethod
    def take(cls, server_pgid: int) -> CpuSample:
        return cls(
            time.time(),
            group_cpu_seconds(server_pgid),
            process_cpu_seconds(),
            machine_cpu_seconds(),
        )


def cpu_shares(before: CpuSample, after: CpuSample, children_s: float = 0.0) -> dict[str, float]:
    """Cores used between two samples by the server, the clients (this
    process plus `children_s` of client children) and anything else."""
    seconds = max(after.wall - before.wall, 1e-9)
    server = after.server - before.server
    client = after.own - before.own + children_s
    other = max(after.machine - before.machine - server - client, 0.0)
    return {
        "server_cpu": round(server / seconds, 3),
        "client_cpu": round(client / seconds, 3),
        "other_cpu": round(other / seconds, 3),
    }


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls until `predicate()` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def revision() -> str:
    """The commit measured, with "+dirty" when server/ has uncommitted changes."""
    git = shutil.which("git")
    if git is None:
        return "unknown"

    def run(*args: str) -> str:
        done = subprocess.run(  # nosec B603
            [git, *args], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        commit = run("rev-parse", "--short", "HEAD")
        dirty = run("status", "--porcelain", "--", "server")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")
