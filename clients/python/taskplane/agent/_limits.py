"""Resource limits applied to a sandboxed command between fork and exec.

The limits are computed in the parent (clamped to the current hard limits,
since an unprivileged process cannot raise them) so that the function run
in the child only calls `setrlimit`: no imports, allocations of note or
locks, which is what keeps `preexec_fn` safe enough even though the parent
runs other threads (`asyncio.to_thread`, the child watcher).
"""

from __future__ import annotations

import resource
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
