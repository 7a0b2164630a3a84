"""CommandTool: only allowlisted programs, no shell, a scrubbed environment,
rlimits, group kills on timeout and runaway output, and one report per run.

The worker may run as root (as in CI containers): Linux does not enforce
RLIMIT_NPROC for a process with CAP_SYS_RESOURCE or CAP_SYS_ADMIN, so the
fork test checks the limit only where it applies and checks everywhere
that no forked process outlives the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from taskplane.agent.commands import CommandTool
from taskplane.agent.files import SandboxViolation
from taskplane.agent.reporting import ActionStatus, RecordingReporter
from taskplane.errors import TaskFailure

PROGRAMS = ["cat", "dd", "echo", "env", "head", "sh", "sleep", "yes"]
MIB = 1024 * 1024


def tool(cwd: Path, reporter: RecordingReporter | None = None, **limits: Any) -> CommandTool:
    """The test programs by absolute path, plus this interpreter as `python`."""
    allowlist: dict[str, Path | str] = {name: _which(name) for name in PROGRAMS}
    allowlist["python"] = sys.executable
    return CommandTool(allowlist, cwd, reporter, **limits)


def _which(name: str) -> str:
    for folder in ("/usr/bin", "/bin"):
        if os.access(f"{folder}/{name}", os.X_OK):
            return f"{folder}/{name}"
    raise AssertionError(f"{name} is not installed")


def _state(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a live process, None once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] in ("Z", "X") else (fields[0], int(fields[2]))


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (state := _state(int(entry))) is not None and state[1] == pgid:
            members.append(int(entry))
    return members


async def _gone(pids: list[int], pgid: int | None = None) -> bool:
    """Whether the processes (and the group) disappear; SIGKILL delivery is
    asynchronous, so give them a few seconds."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _state(pid) is not None]
        if not alive and (pgid is None or not _group_members(pgid)):
            return True
        await asyncio.sleep(0.05)
    return False


def _rlimits_exempt() -> bool:
    """Whether this process bypasses RLIMIT_NPROC (CAP_SYS_ADMIN or CAP_SYS_RESOURCE)."""
    with open("/proc/self/status") as handle:
        caps = next(line for line in handle if line.startswith("CapEff:"))
    effective = int(caps.split()[1], 16)
    return bool(effective & (1 << 21 | 1 << 24))


async def test_runs_an_allowlisted_program(tmp_path: Path) -> None:
    result = await tool(tmp_path).run(["echo", "hello", "world"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "hello world\n", "")
    assert (result.truncated, result.timed_out) == (False, False)
    pwd = await tool(tmp_path).run(["sh", "-c", "pwd"])
    assert pwd.stdout == f"{tmp_path}\n"


async def test_stdin_is_passed_through(tmp_path: Path) -> None:
    result = await tool(tmp_path).run(["cat"], stdin="line one\nline two\n")
    assert result.stdout == "line one\nline two\n"
    assert (await tool(tmp_path).run(["cat"])).stdout == ""


@pytest.mark.parametrize("name", ["rm", "bash", "python3", "ECHO", "echo "])
async def test_programs_off_the_allowlist_are_refused(tmp_path: Path, name: str) -> None:
    reporter = RecordingReporter()
    with pytest.raises(SandboxViolation) as info:
        await tool(tmp_path, reporter).run([name, "-rf", str(tmp_path)])
    assert info.value.code == "sandbox.command_not_allowed"
    assert "is not an allowlisted program" in info.value.message
    assert tmp_path.exists()
    assert [a["status"] for a in reporter.actions] == [ActionStatus.FAILED]


@pytest.mark.parametrize("name", ["/bin/sh", "/usr/bin/echo", "./x", "bin/echo", ".", "..", ""])
async def test_programs_given_as_paths_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "x").write_text("#!/bin/sh\necho ran\n")
    (tmp_path / "x").chmod(0o755)
    with pytest.raises(SandboxViolation) as info:
        await tool(tmp_path).run([name, "-c", "echo ran"])
    assert info.value.code == "sandbox.command_not_allowed"
    assert info.value.retryable is False


@pytest.mark.parametrize("argv", [[], "echo hi", ["echo", "a\0b"]])
async def test_malformed_argv_is_refused(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SandboxViolation) as info:
        await tool(tmp_path).run(argv)
    assert info.value.code == "sandbox.invalid_command"


async def test_shell_metacharacters_are_passed_literally(tmp_path: Path) -> None:
    text = "$(id); rm -rf / `whoami` && echo $HOME"
    result = await tool(tmp_path).run(["echo", text])
    assert result.stdout == text + "\n"
    piped = await tool(tmp_path).run(["echo", "a", "|", "cat", ">", "out.txt", ";", "id"])
    assert piped.stdout == "a | cat > out.txt ; id\n"
    assert list(tmp_path.iterdir()) == []


async def test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_API_KEY", "tp_fake_key_do_not_leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws_fake_secret")
    allowlist = {"env": _which("env")}
    result = await CommandTool(allowlist, tmp_path, env={"EXTRA": "given"}).run(["env"])
    assert "tp_fake_key_do_not_leak" not in result.stdout
    assert "aws_fake_secret" not in result.stdout
    assert set(result.stdout.splitlines()) == {
        "PATH=/usr/bin:/bin",
        "LANG=C.UTF-8",
        f"HOME={tmp_path}",
        "EXTRA=given",
    }


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    commands = tool(tmp_path, reporter, timeout_s=0.5)
    result = await commands.run(["sh", "-c", "sleep 30 & echo $$ $!; sleep 30"])
    assert result.timed_out is True
    assert result.exit_code == -signal.SIGKILL
    leader, background = (int(pid) for pid in result.stdout.split())
    assert await _gone([leader, background], pgid=leader)
    action = reporter.actions[0]
    assert action["status"] is ActionStatus.FAILED
    assert action["output"]["timed_out"] is True
    assert "timed out" in action["error_message"]


async def test_background_children_do_not_outlive_the_command(tmp_path: Path) -> None:
    result = await tool(tmp_path).run(["sh", "-c", "sleep 30 & echo $!"])
    assert (result.exit_code, result.timed_out) == (0, False)
    assert await _gone([int(result.stdout)])


async def test_rlimits_are_set_in_the_child(tmp_path: Path) -> None:
    commands = tool(
        tmp_path, cpu_seconds=3, memory_bytes=300 * MIB, max_file_bytes=2 * MIB, max_processes=20
    )
    result = await commands.run(["cat", "/proc/self/limits"])
    limits = {line[:26].strip(): line[26:].split()[:2] for line in result.stdout.splitlines()[1:]}
    assert limits["Max cpu time"] == ["3", "4"]
    assert limits["Max address space"] == [str(300 * MIB)] * 2
    assert limits["Max file size"] == [str(2 * MIB)] * 2
    assert limits["Max processes"] == ["20", "20"]
    assert limits["Max core file size"] == ["0", "0"]


async def test_cpu_limit_kills_a_busy_loop(tmp_path: Path) -> None:
    result = await tool(tmp_path, cpu_seconds=1, timeout_s=60).run(
        ["python", "-c", "while True: pass"]
    )
    assert result.timed_out is False
    assert result.exit_code in (-signal.SIGXCPU, -signal.SIGKILL)


async def test_memory_limit_stops_a_large_allocation(tmp_path: Path) -> None:
    commands = tool(tmp_path, memory_bytes=256 * MIB)
    small = await commands.run(["python", "-c", "b = bytearray(16 << 20); print(len(b))"])
    assert (small.exit_code, small.stdout) == (0, f"{16 * MIB}\n")
    big = await commands.run(["python", "-c", "b = bytearray(1 << 30); print('allocated')"])
    assert big.exit_code != 0
    assert "MemoryError" in big.stderr
    assert "allocated" not in big.stdout


async def test_file_size_limit_stops_a_large_write(tmp_path: Path) -> None:
    commands = tool(tmp_path, max_file_bytes=1 * MIB)
    result = await commands.run(["dd", "if=/dev/zero", "of=big.bin", "bs=65536", "count=64"])
    assert result.exit_code == -signal.SIGXFSZ
    assert (tmp_path / "big.bin").stat().st_size <= 1 * MIB


async def test_fork_loop_is_contained(tmp_path: Path) -> None:
    """Forks up to 100 sleepers; with RLIMIT_NPROC=20 in force most forks
    fail, and in every case none of them survives the run."""
    script = (
        "import os, time\n"
        "pids = []\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "print(os.getpid(), *pids)\n"
    )
    result = await tool(tmp_path, max_processes=20, timeout_s=30).run(["python", "-c", script])
    leader, *children = (int(pid) for pid in result.stdout.split())
    if _rlimits_exempt():
        assert len(children) == 100  # root with CAP_SYS_RESOURCE/ADMIN: not enforced
    else:
        assert len(children) < 20
    assert await _gone([leader, *children], pgid=leader)


async def test_output_is_capped_and_a_flood_is_killed(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    commands = tool(tmp_path, reporter, max_output_bytes=1000, timeout_s=30)
    flood = await commands.run(["yes"])
    assert flood.truncated is True
    assert flood.timed_out is False
    assert flood.exit_code == -signal.SIGKILL
    assert flood.stdout == "y\n" * 500
    assert reporter.actions[0]["output"]["truncated"] is True
    assert reporter.actions[0]["output"]["stdout_bytes"] == 1000
    assert "output far exceeded the limit" in reporter.actions[0]["error_message"]

    # A little over the cap is drained: the command finishes normally.
    over = await commands.run(["head", "-c", "3000", "/dev/zero"])
    assert (over.exit_code, over.truncated) == (0, True)
    assert over.stdout == "\0" * 1000
    stderr = await commands.run(["sh", "-c", "yes >&2"])
    assert stderr.truncated is True
    assert len(stderr.stderr) == 1000


async def test_each_run_is_reported_once(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    commands = tool(tmp_path, reporter)
    await commands.run(["echo", "hi"], stdin="ignored")
    failed = await commands.run(["sh", "-c", "echo oops >&2; exit 3"])
    assert failed.exit_code == 3
    with pytest.raises(SandboxViolation):
        await commands.run(["/bin/sh"])

    ok, exit3, refused = reporter.actions
    assert [a["name"] for a in reporter.actions] == ["command.run"] * 3
    assert ok["status"] is ActionStatus.SUCCEEDED
    assert ok["arguments"] == {"argv": ["echo", "hi"], "stdin_bytes": 7}
    assert ok["output"] == {
        "exit_code": 0,
        "stdout_bytes": 3,
        "stderr_bytes": 0,
        "truncated": False,
        "timed_out": False,
    }
    assert ok["error_message"] == ""
    assert exit3["status"] is ActionStatus.FAILED
    assert exit3["error_message"] == "exited with code 3"
    assert exit3["output"]["stderr_bytes"] == 5
    assert refused["status"] is ActionStatus.FAILED
    assert refused["output"] == {"code": "sandbox.command_not_allowed"}
    assert "is a path" in refused["error_message"]
    assert all(isinstance(a["duration_s"], float) for a in reporter.actions)


async def test_cancelling_a_run_kills_its_group(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    run = asyncio.create_task(
        tool(tmp_path, timeout_s=30).run(["sh", "-c", f"echo $$ > {marker}; sleep 30"])
    )
    while not marker.exists() or not marker.read_text().strip():
        await asyncio.sleep(0.02)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    leader = int(marker.read_text())
    assert await _gone([leader], pgid=leader)


def test_configuration_is_checked_when_the_tool_is_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bare program name"):
        CommandTool({"bin/echo": "/usr/bin/echo"}, tmp_path)
    with pytest.raises(ValueError, match="absolute executable path"):
        CommandTool({"echo": "echo"}, tmp_path)
    with pytest.raises(ValueError, match="absolute executable path"):
        CommandTool({"x": tmp_path}, tmp_path)
    with pytest.raises(ValueError, match="not in /usr/bin:/bin"):
        CommandTool(["no-such-program-here"], tmp_path)
    with pytest.raises(ValueError, match="not an existing directory"):
        CommandTool(["echo"], tmp_path / "missing")
    with pytest.raises(ValueError, match="invalid environment variable"):
        CommandTool(["echo"], tmp_path, env={"A=B": "c"})
    with pytest.raises(TypeError):
        CommandTool("echo", tmp_path)
    assert CommandTool(["echo"], tmp_path).programs == {"echo": _which("echo")}


async def test_a_vanished_working_directory_fails_the_launch(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    commands = CommandTool(["echo"], cwd)
    cwd.rmdir()
    with pytest.raises(TaskFailure) as info:
        await commands.run(["echo", "hi"])
    assert info.value.code == "command.launch_failed"
