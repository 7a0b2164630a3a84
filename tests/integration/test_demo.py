"""scripts/demo end to end: a server process, the demo agent process and the
CLI following one task to its end."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


async def test_demo_runs_a_task_and_prints_its_events_live() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "scripts" / "demo.py"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    output = stdout.decode()
    assert process.returncode == 0, output + stderr.decode()
    types = re.findall(r"^\s*\d+\s+\S+\s+(\S+)", output, flags=re.MULTILINE)
    assert types == [
        "task.created",
        "task.started",
        "execution.started",
        "agent.thinking",
        "agent.action",
        "agent.message",
        "execution.completed",
        "task.completed",
    ]
    assert "echo: What does Taskplane do?" in output
    assert "instruction_override" in output  # the guard flagged the retrieved context
    assert "end of stream: task_terminal" in stderr.decode()
