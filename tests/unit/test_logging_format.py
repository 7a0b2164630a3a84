"""TASKPLANE_LOG_FORMAT=auto: console lines on a terminal, JSON otherwise."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

SNIPPET = (
    "import structlog\n"
    "from server.observability.logging import configure_logging\n"
    "configure_logging('info', 'auto')\n"
    "structlog.get_logger('probe').info('probe.line', answer=42)\n"
)


def test_auto_writes_json_when_stdout_is_not_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET], capture_output=True, check=True, timeout=60
    )
    (line,) = [json.loads(raw) for raw in done.stdout.decode().splitlines() if raw.strip()]
    assert line["event"] == "probe.line"
    assert line["answer"] == 42


def test_auto_writes_console_lines_on_a_terminal() -> None:
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-c", SNIPPET],
            stdout=follower,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=60,
        )
        output = os.read(leader, 65536).decode(errors="replace")
    finally:
        os.close(leader)
        os.close(follower)
    assert "probe.line" in output
    assert "answer" in output
    assert not output.lstrip().startswith("{")
