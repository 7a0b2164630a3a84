"""How sandboxed commands get their resource limits."""

from __future__ import annotations

import resource
import shutil

import pytest

from taskplane.agent import _limits

LIMITS = _limits.rlimits(
    cpu_seconds=2, memory_bytes=64 << 20, max_file_bytes=1 << 20, max_processes=8
)


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="util-linux prlimit not installed")
def test_commands_run_under_prlimit_without_a_python_preexec() -> None:
    prefix, preexec = _limits.launcher(LIMITS, "/usr/bin:/bin")
    assert preexec is None
    assert prefix[0].endswith("/prlimit")
    assert prefix[-1] == "--"
    assert "--cpu=2:3" in prefix
    assert f"--as={64 << 20}:{64 << 20}" in prefix
    assert "--core=0:0" in prefix


def test_without_prlimit_a_setrlimit_preexec_applies_them() -> None:
    prefix, preexec = _limits.launcher(LIMITS, "/nonexistent")
    assert prefix == []
    assert callable(preexec)
    kinds = [kind for kind, _ in LIMITS]
    assert kinds == [
        resource.RLIMIT_CPU,
        resource.RLIMIT_AS,
        resource.RLIMIT_FSIZE,
        resource.RLIMIT_NPROC,
        resource.RLIMIT_CORE,
    ]
