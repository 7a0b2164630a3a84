"""Resource limits applied to a sandboxed command before it runs.

The limits are computed in the parent (clamped to the current hard limits,
since an unprivileged process cannot raise them). Where util-linux's
`prlimit` exists, the command runs under it (`prlimit --cpu=... -- cmd`):
prlimit sets the limits on itself and execs the command, so no Python runs
between fork and exec and the spawn can use vfork. That matters in a worker:
a Python-level fork in a process with live gRPC channels runs gRPC's at-fork
handlers, which can abort the child. Without prlimit, a `preexec_fn` that
only calls `setrlimit` applies them instead.
"""

from __future__ import annotations

import resource
import shutil
from collections.abc import Callable

Rlimit = tuple[int, tuple[int, int]]


def _clamp(kind: int, soft: int, hard: int) -> Rlimit:
    current_hard = resource.getrlimit(kind)[1]
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    return kind, (soft, hard)


def rlimits(
    *, cpu_seconds: int, memory_bytes: int, max_file_bytes: int, max_processes: int
) -> tuple[Rlimit, ...]:
    """The limits for one command.

    RLIMIT_CPU gets a hard limit one second above the soft one: SIGXCPU at
    the soft limit, SIGKILL at the hard one if SIGXCPU is caught. RLIMIT_NPROC
    counts every process of the real user id, not only the command's, and
    Linux does not enforce it for root (CAP_SYS_RESOURCE or CAP_SYS_ADMIN).
    """
    return (
        _clamp(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1),
        _clamp(resource.RLIMIT_AS, memory_bytes, memory_bytes),
        _clamp(resource.RLIMIT_FSIZE, max_file_bytes, max_file_bytes),
        _clamp(resource.RLIMIT_NPROC, max_processes, max_processes),
        _clamp(resource.RLIMIT_CORE, 0, 0),
    )


def preexec(limits: tuple[Rlimit, ...]) -> Callable[[], None]:
    """A `preexec_fn` that applies `limits` in the child."""
    setrlimit = resource.setrlimit

    def apply() -> None:
        for kind, values in limits:
            setrlimit(kind, values)

    return apply


_PRLIMIT_NAMES = {
    resource.RLIMIT_CPU: "cpu",
    resource.RLIMIT_AS: "as",
    resource.RLIMIT_FSIZE: "fsize",
    resource.RLIMIT_NPROC: "nproc",
    resource.RLIMIT_CORE: "core",
}


def _prlimit_value(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def launcher(
    limits: tuple[Rlimit, ...], search_path: str
) -> tuple[list[str], Callable[[], None] | None]:
    """How to start a command under `limits`: an argv prefix and a
    `preexec_fn` (one of the two is empty)."""
    prlimit = shutil.which("prlimit", path=search_path)
    if prlimit is None:
        return [], preexec(limits)
    options = [
        f"--{_PRLIMIT_NAMES[kind]}={_prlimit_value(soft)}:{_prlimit_value(hard)}"
        for kind, (soft, hard) in limits
    ]
    return [prlimit, *options, "--"], None
