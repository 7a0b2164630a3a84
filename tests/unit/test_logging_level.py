"""The configured level decides which lines are logged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SNIPPET = (
    "import sys, structlog\n"
    "from server.observability.logging import configure_logging\n"
    "configure_logging(sys.argv[1], 'json')\n"
    "structlog.get_logger('probe').info('probe.info')\n"
    "structlog.get_logger('probe').warning('probe.warning')\n"
)


@pytest.mark.parametrize(
    ("level", "info_logged"), [("debug", True), ("info", True), ("warning", False)]
)
def test_info_lines_follow_the_configured_level(level: str, info_logged: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, level], capture_output=True, check=True, timeout=60
    )
    events = [json.loads(raw)["event"] for raw in done.stdout.decode().splitlines() if raw]
    expected = ["probe.info", "probe.warning"] if info_logged else ["probe.warning"]
    assert events == expected
