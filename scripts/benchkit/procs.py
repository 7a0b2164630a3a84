"""Child processes and what /proc tells about them: pinned starts, CPU time of
a process group, resident memory, and a stop that always ends what it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
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
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(env),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        self.pid = self.process.pid

    def readline(self, timeout: float) -> str:
        """One line of stdout, or TimeoutError (the child is still running)."""
        assert self.process.stdout is not None
        import select

        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"child {self.pid} printed nothing for {timeout} s")
        line = self.process.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"child {self.pid} exited with {self.process.wait(5)}")
        return line.strip()

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
