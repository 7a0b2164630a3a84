"""Dependency checks behind StatusService and readiness. Each one gives a
verdict, how long it took and a detail line; they run in parallel, each under
the check timeout, and a check that fails or times out is DOWN."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import time
from collections.abc import Awaitable, Callable

import structlog

from server.core.clock import now_us
from server.core.errors import DatabaseUnavailable
from server.engine.runtime import Runtime
from server.store.event_log import NOTIFY_CHANNEL
from server.store.migrate import current_revision, head_revision
from taskplane.v1 import status_pb2

log = structlog.get_logger(__name__)


class CheckState(enum.IntEnum):
    """Verdicts; the numbers are those of `taskplane.v1.DependencyState`."""

    OK = status_pb2.DEPENDENCY_STATE_OK
    DEGRADED = status_pb2.DEPENDENCY_STATE_DEGRADED
    DOWN = status_pb2.DEPENDENCY_STATE_DOWN
    NOT_APPLICABLE = status_pb2.DEPENDENCY_STATE_NOT_APPLICABLE


Verdict = tuple[CheckState, str]


@dataclasses.dataclass(frozen=True)
class CheckResult:
    name: str
    state: CheckState
    detail: str
    latency_s: float
    #: Readiness depends on it.
    critical: bool


@dataclasses.dataclass(frozen=True)
class Capability:
    """Supply of agents for one task kind."""

    kind: str
    online_agents: int
    queued_tasks: int


@dataclasses.dataclass(frozen=True)
class StatusReport:
    checks: list[CheckResult]
    capabilities: list[Capability]

    @property
    def ready(self) -> bool:
        return all(check.state == CheckState.OK for check in self.checks if check.critical)


def capability_supply(
    agents: list[tuple[list[str], int]], queued: dict[str, int], online_since: int
) -> list[Capability]:
    """One entry per kind that has queued tasks or registered agents, by kind.
    `agents` holds (kinds, last seen time); an agent seen at or after
    `online_since` is online."""
    online = dict.fromkeys(queued, 0)
    for kinds, last_seen in agents:
        for kind in set(kinds):
            online[kind] = online.get(kind, 0) + int(last_seen >= online_since)
    return [Capability(kind, online[kind], queued.get(kind, 0)) for kind in sorted(online)]


def supply_verdict(capabilities: list[Capability]) -> Verdict:
    """DEGRADED while a kind with queued tasks has no online agent."""
    starved = [c.kind for c in capabilities if c.queued_tasks and not c.online_agents]
    if starved:
        return CheckState.DEGRADED, "no online agent for queued kinds: " + ", ".join(starved)
    served = sum(1 for c in capabilities if c.online_agents)
    return CheckState.OK, f"{served} of {len(capabilities)} kinds have online agents"


class DependencyChecks:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._timeout_s = runtime.settings.status_check_timeout_s
        self._expected_revision = head_revision()

    async def report(self, workspace_id: str) -> StatusReport:
        """Every check; agents and queues are those of the workspace."""
        capabilities: list[Capability] = []

        async def agents() -> Verdict:
            capabilities.extend(await self._capabilities(workspace_id))
            return supply_verdict(capabilities)

        checks = await asyncio.gather(
            self.database(),
            self._run("notification_listener", False, self._listener),
            self._run("event_hub", False, self._event_hub),
            self._run("agents", False, agents),
        )
        return StatusReport(list(checks), capabilities)

    async def database(self) -> CheckResult:
        """The critical check: a round trip that reads the migration head."""
        return await self._run("database", True, self._database)

    async def _run(
        self, name: str, critical: bool, probe: Callable[[], Awaitable[Verdict]]
    ) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                state, detail = await probe()
        except TimeoutError:
            state, detail = CheckState.DOWN, f"no answer within {self._timeout_s:g} s"
        except DatabaseUnavailable as error:
            state, detail = CheckState.DOWN, f"database unavailable ({error.cause})"
        except Exception as error:
            log.warning("status.check_failed", check=name, exc_info=error)
            state, detail = CheckState.DOWN, f"check failed ({type(error).__name__})"
        return CheckResult(name, state, detail, time.perf_counter() - started, critical)

    async def _database(self) -> Verdict:
        revision = await self._rt.read(current_revision)
        kind = "SQLite" if self._rt.database.is_sqlite else "PostgreSQL"
        expected = self._expected_revision
        if revision != expected:
            return CheckState.DOWN, f"{kind}, schema at {revision or 'none'}, expected {expected}"
        return CheckState.OK, f"{kind}, schema at {revision}, expected {expected}"

    async def _listener(self) -> Verdict:
        if self._rt.database.is_sqlite:
            return CheckState.NOT_APPLICABLE, "SQLite: commits wake the event hub in process"
        hub = self._rt.hub
        if hub.listening:
            return CheckState.OK, f"LISTEN {NOTIFY_CHANNEL} connection open"
        reason = hub.listener_error or "not connected"
        return CheckState.DOWN, f"reconnecting ({reason}); the event hub polls meanwhile"

    async def _event_hub(self) -> Verdict:
        hub = self._rt.hub
        store_head = await self._rt.read(self._rt.event_log.head)
        lag = max(0, store_head - hub.head)
        detail = (
            f"store head {store_head}, hub head {hub.head}, lag {lag} events, "
            f"{hub.subscribers} subscribers"
        )
        if hub.load_error:
            return CheckState.DEGRADED, f"{detail}; loading failed ({hub.load_error})"
        return CheckState.OK, detail

    async def _capabilities(self, workspace_id: str) -> list[Capability]:
        rt = self._rt
        online_since = now_us() - int(rt.settings.agent_offline_after_s * 1e6)
        agents, queued = await rt.read(
            lambda conn: (
                rt.agents.capabilities(conn, workspace_id),
                rt.tasks.queued_by_kind(conn, workspace_id),
            )
        )
        return capability_supply(agents, queued, online_since)
