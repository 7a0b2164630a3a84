"""A command tool that runs only allowlisted programs, without a shell.

- `argv[0]` must be a bare allowlisted name; programs are resolved to absolute
  paths when the tool is built (names through `PATH=/usr/bin:/bin`, the
  sandbox's own `PATH`), so neither a path nor the caller's `PATH` decides
  what runs. Arguments reach the program verbatim: `;`, `|`, `$(...)` are
  just characters.
- The environment is scrubbed: `PATH`, `LANG=C.UTF-8`, `HOME=<cwd>` and the
  `env` given to the tool, nothing inherited (API keys stay out).
- The child gets rlimits (CPU, address space, file size, processes, no core
  files; see `_limits`) and its own session and process group; the group is
  killed with SIGKILL on timeout, on runaway output, on cancellation, and
  after the command exits, so background children do not outlive it.
- Output is read incrementally; each stream keeps its first
  `max_output_bytes` (then `truncated` is set) and the group is killed once a
  stream passes four times that.

What it is not: a container. A command can read and write whatever the user
running the worker can (use `FileTool` for jailed file access), and a program
that starts its own session (`setsid`) leaves the process group and escapes
the group kill. RLIMIT_NPROC is not enforced for root. For untrusted code, run
the worker in a container or VM as an unprivileged user.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskplane.agent import _limits
from taskplane.agent.files import SandboxViolation
from taskplane.agent.reporting import ActionReporter, ActionStatus
from taskplane.errors import TaskFailure

__all__ = ["CommandResult", "CommandTool", "SandboxViolation"]

SANDBOX_PATH = "/usr/bin:/bin"
_CHUNK = 65536
_FLOOD_FACTOR = 4
_DRAIN_S = 2.0
_REPORTED_ARG_CHARS = 256
_REPORTED_ARGS = 64


@dataclass(frozen=True)
class CommandResult:
    """`exit_code` is negative when the command was killed by a signal
    (e.g. -9 after a timeout or runaway output, -24 for SIGXCPU)."""

    exit_code: int
    stdout: str
    stderr: str
    truncated: bool
    timed_out: bool
    duration_s: float


def _bare_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\0" not in name
    )


def _resolve_allowlist(allowlist: Mapping[str, Path | str] | Sequence[str]) -> dict[str, str]:
    if isinstance(allowlist, str):
        raise TypeError("allowlist must be a sequence or mapping of names, not one string")
    given: Mapping[str, Path | str | None] = (
        allowlist if isinstance(allowlist, Mapping) else dict.fromkeys(allowlist)
    )
    programs: dict[str, str] = {}
    for name, location in given.items():
        if not _bare_name(name):
            raise ValueError(f"allowlisted name {name!r} must be a bare program name")
        if location is None:
            found = shutil.which(name, path=SANDBOX_PATH)
            if found is None:
                raise ValueError(f"allowlisted program {name!r} is not in {SANDBOX_PATH}")
            location = found
        path = str(location)
        if not os.path.isabs(path) or not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise ValueError(f"allowlisted program {name!r} must be an absolute executable path")
        programs[name] = path
    return programs


def _environment(cwd: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": str(cwd)}
    for key, value in (extra or {}).items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"invalid environment variable {key!r}")
        env[key] = value
    return env


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _Capture:
    """The first `limit` bytes of one output stream."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.total = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")

    async def read(self, stream: asyncio.StreamReader, flood: Callable[[], None]) -> None:
        """Read to the end (so the pipe closes), calling `flood` once the
        stream passes `_FLOOD_FACTOR` times the limit."""
        flooded = False
        while chunk := await stream.read(_CHUNK):
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            self.total += len(chunk)
            if not flooded and self.total > self.limit * _FLOOD_FACTOR:
                flooded = True
                flood()


async def _exited(proc: asyncio.subprocess.Process) -> None:
    """Wait for the process itself to exit. `Process.wait()` also waits for its
    pipes to close, which a background child can keep open indefinitely."""
    delay = 0.001
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def _describe(result: CommandResult, flooded: bool) -> str:
    if result.timed_out:
        return "timed out; the process group was killed"
    if flooded:
        return "output far exceeded the limit; the process group was killed"
    if result.exit_code < 0:
        try:
            return f"killed by {signal.Signals(-result.exit_code).name}"
        except ValueError:
            return f"killed by signal {-result.exit_code}"
    return f"exited with code {result.exit_code}"


class CommandTool:
    """Runs allowlisted programs in `cwd` with limits; see the module docstring."""

    def __init__(
        self,
        allowlist: Mapping[str, Path | str] | Sequence[str],
        cwd: Path,
        reporter: ActionReporter | None = None,
        *,
        timeout_s: float = 10.0,
        cpu_seconds: int = 5,
        memory_bytes: int = 512 * 1024 * 1024,
        max_file_bytes: int = 16 * 1024 * 1024,
        max_processes: int = 64,
        max_output_bytes: int = 65536,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not Path(cwd).is_dir():
            raise ValueError(f"cwd {str(cwd)!r} is not an existing directory")
        if timeout_s <= 0 or max_output_bytes <= 0:
            raise ValueError("timeout_s and max_output_bytes must be positive")
        self.programs = _resolve_allowlist(allowlist)
        self.cwd = Path(cwd)
        self.timeout_s = timeout_s
        self.max_output_bytes = max_output_bytes
        self._reporter = reporter
        self._env = _environment(self.cwd, env)
        self._launch_prefix, self._preexec = _limits.launcher(
            _limits.rlimits(
                cpu_seconds=cpu_seconds,
                memory_bytes=memory_bytes,
                max_file_bytes=max_file_bytes,
                max_processes=max_processes,
            ),
            SANDBOX_PATH,
        )

    async def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        """Run `argv`; a nonzero exit or a timeout is a result, not an error.

        Raises `SandboxViolation` for a program that is not allowlisted (or
        given as a path) or a malformed argv, and `TaskFailure`
        (`command.launch_failed`) when the program cannot be started.
        """
        data = None if stdin is None else stdin.encode("utf-8")
        arguments = {
            "argv": [str(arg)[:_REPORTED_ARG_CHARS] for arg in list(argv)[:_REPORTED_ARGS]],
            "stdin_bytes": 0 if data is None else len(data),
        }
        started = time.monotonic()
        try:
            program = self._check(argv)
            result, flooded = await self._execute(program, list(argv[1:]), data, started)
        except TaskFailure as exc:
            await self._report(arguments, {"code": exc.code}, ActionStatus.FAILED, started, exc)
            raise
        output = {
            "exit_code": result.exit_code,
            "stdout_bytes": len(result.stdout.encode("utf-8", "replace")),
            "stderr_bytes": len(result.stderr.encode("utf-8", "replace")),
            "truncated": result.truncated,
            "timed_out": result.timed_out,
        }
        if result.exit_code == 0 and not result.timed_out:
            await self._report(arguments, output, ActionStatus.SUCCEEDED, started, None)
        else:
            await self._report(
                arguments, output, ActionStatus.FAILED, started, _describe(result, flooded)
            )
        return result

    def _check(self, argv: Sequence[str]) -> str:
        if isinstance(argv, str) or not argv:
            raise SandboxViolation(
                "sandbox.invalid_command", "argv must be a non-empty list of strings"
            )
        if any(not isinstance(arg, str) or "\0" in arg for arg in argv):
            raise SandboxViolation(
                "sandbox.invalid_command", "every argument must be a string without NUL bytes"
            )
        name = argv[0]
        if not _bare_name(name):
            raise SandboxViolation(
                "sandbox.command_not_allowed",
                f"{name!r} is a path; programs are named, not given as paths "
                f"(allowed: {', '.join(sorted(self.programs))})",
            )
        program = self.programs.get(name)
        if program is None:
            raise SandboxViolation(
                "sandbox.command_not_allowed",
                f"{name!r} is not an allowlisted program "
                f"(allowed: {', '.join(sorted(self.programs))})",
            )
        return program

    async def _execute(
        self, program: str, args: list[str], data: bytes | None, started: float
    ) -> tuple[CommandResult, bool]:
        if not self.cwd.is_dir():
            raise TaskFailure(
                f"working directory {str(self.cwd)!r} no longer exists",
                code="command.launch_failed",
            )
        try:
            # The program is an allowlisted absolute path, argv is passed without a shell.
            proc = await asyncio.create_subprocess_exec(
                *self._launch_prefix,
                program,
                *args,
                stdin=asyncio.subprocess.DEVNULL if data is None else asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
                env=self._env,
                start_new_session=True,
                preexec_fn=self._preexec,  # None, or only setrlimit calls: see _limits
            )
        except OSError as exc:
            raise TaskFailure(
                f"{os.path.basename(program)!r} could not be started: {exc.strerror}",
                code="command.launch_failed",
            ) from None
        try:
            return await self._collect(proc, data, started)
        except BaseException:
            _kill_group(proc.pid)
            raise

    async def _collect(
        self, proc: asyncio.subprocess.Process, data: bytes | None, started: float
    ) -> tuple[CommandResult, bool]:
        assert proc.stdout is not None
        assert proc.stderr is not None
        flooded = False

        def flood() -> None:
            nonlocal flooded
            flooded = True
            _kill_group(proc.pid)

        out, err = _Capture(self.max_output_bytes), _Capture(self.max_output_bytes)
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(out.read(proc.stdout, flood)),
            asyncio.create_task(err.read(proc.stderr, flood)),
        ]
        if data is not None:
            assert proc.stdin is not None
            tasks.append(asyncio.create_task(self._feed(proc.stdin, data)))
        timed_out = False
        try:
            try:
                await asyncio.wait_for(_exited(proc), self.timeout_s)
            except TimeoutError:
                timed_out = True
            _kill_group(proc.pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_exited(proc), _DRAIN_S)
            await asyncio.wait(tasks, timeout=_DRAIN_S)
        finally:
            for task in tasks:
                task.cancel()
        result = CommandResult(
            # Still running only if SIGKILL has not taken effect yet (uninterruptible sleep).
            exit_code=-signal.SIGKILL if proc.returncode is None else proc.returncode,
            stdout=out.text(),
            stderr=err.text(),
            truncated=out.truncated or err.truncated,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
        )
        return result, flooded

    @staticmethod
    async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _report(
        self,
        arguments: Mapping[str, Any],
        output: Mapping[str, Any],
        status: ActionStatus,
        started: float,
        error: TaskFailure | str | None,
    ) -> None:
        if self._reporter is None:
            return
        message = error.message if isinstance(error, TaskFailure) else (error or "")
        await self._reporter.action(
            "command.run",
            arguments=arguments,
            output=output,
            status=status,
            duration_s=time.monotonic() - started,
            error_message=message,
        )
