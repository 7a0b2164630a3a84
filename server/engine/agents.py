"""Agent commands: the worker protocol (register, acquire, heartbeat, report,
complete, fail) with lease fencing."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses

import sqlalchemy as sa

from server.core import lifecycle
from server.core.clock import now_us
from server.core.errors import InvalidArgument, NotFound, StaleLease
from server.core.ids import new_id
from server.core.model import Agent, CallContext, EventDraft, Task, TaskError, TaskState
from server.core.protos import agent_to_proto
from server.engine.runtime import Runtime
from taskplane.v1 import agents_pb2, events_pb2

#: Events after which queued work may be available.
WORK_EVENT_TYPES = frozenset({"task.created", "task.retrying", "task.requeued"})
#: How often a waiting AcquireTasks looks again without a wake-up (e.g. for
#: backoffs that end without an event).
ACQUIRE_POLL_S = 0.5
#: How long a waiting AcquireTasks lets work gather after a wake-up.
ACQUIRE_BATCH_S = 0.01
#: AcquireTasks writes an agent's last-seen time at most this often (online
#: status has a window of `agent_offline_after_s`, a minute by default).
TOUCH_EVERY_US = 1_000_000


@dataclasses.dataclass(frozen=True)
class AgentCard:
    name: str
    version: str
    description: str
    capabilities: list[str]
    max_concurrency: int
    labels: dict[str, str]


@dataclasses.dataclass(frozen=True)
class LeaseRef:
    task_id: str
    lease_id: str


@dataclasses.dataclass(frozen=True)
class LeaseUpdate:
    task_id: str
    lease_id: str
    status: int
    expire_time: int | None


class AgentCommands:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def is_online(self, agent: Agent, now: int) -> bool:
        return now - agent.last_seen_time <= int(self._rt.settings.agent_offline_after_s * 1e6)

    async def register(self, ctx: CallContext, card: AgentCard, request_id: str | None) -> Agent:
        def work(conn: sa.Connection, now: int) -> tuple[Agent, list[EventDraft]]:
            if request_id:
                existing = self._rt.agents.get_by_request_id(conn, ctx.workspace_id, request_id)
                if existing is not None:
                    return existing, []
            agent = Agent(
                id=new_id("agt"),
                workspace_id=ctx.workspace_id,
                name=card.name,
                version=card.version,
                description=card.description,
                capabilities=list(card.capabilities),
                max_concurrency=card.max_concurrency or 1,
                labels=dict(card.labels),
                request_id=request_id,
                create_time=now,
                last_seen_time=now,
            )
            self._rt.agents.insert(conn, agent)
            payload = events_pb2.AgentRegistered(agent=agent_to_proto(agent, online=True))
            return agent, [EventDraft("agent.registered", payload, agent_id=agent.id)]

        agent, _ = await self._rt.transact(ctx, work)
        return agent

    async def get(self, workspace_id: str, agent_id: str) -> Agent:
        def work(conn: sa.Connection) -> tuple[Agent | None, dict[str, int]]:
            agent = self._rt.agents.get(conn, workspace_id, agent_id)
            if agent is None:
                return None, {}
            return agent, self._rt.tasks.active_leases_by_agent(conn, workspace_id, [agent.id])

        agent, counts = await self._rt.read_point(work)
        if agent is None:
            raise NotFound("agent", agent_id)
        agent.active_leases = counts.get(agent.id, 0)
        return agent

    async def list(
        self,
        workspace_id: str,
        *,
        after: tuple[int, str] | None,
        limit: int,
        online: bool | None,
    ) -> list[Agent]:
        window = int(self._rt.settings.agent_offline_after_s * 1e6)
        cutoff = now_us() - window

        def work(conn: sa.Connection) -> tuple[builtins.list[Agent], dict[str, int]]:
            agents = self._rt.agents.list(
                conn,
                workspace_id,
                after=after,
                limit=limit,
                seen_since=cutoff if online is True else None,
                seen_before=cutoff if online is False else None,
            )
            ids = [agent.id for agent in agents]
            return agents, self._rt.tasks.active_leases_by_agent(conn, workspace_id, ids)

        agents, counts = await self._rt.read(work)
        for agent in agents:
            agent.active_leases = counts.get(agent.id, 0)
        return agents

    async def acquire(
        self,
        ctx: CallContext,
        agent_id: str,
        max_tasks: int,
        wait_s: float,
        kinds: builtins.list[str],
    ) -> builtins.list[lifecycle.LeaseGrant]:
        agent = await self._rt.read_point(
            lambda conn: self._rt.agents.get(conn, ctx.workspace_id, agent_id)
        )
        if agent is None:
            raise NotFound("agent", agent_id)
        unknown = sorted(set(kinds) - set(agent.capabilities))
        if unknown:
            raise InvalidArgument.one(
                "kinds", f"not among the agent's capabilities: {', '.join(unknown)}"
            )
        wanted = kinds or agent.capabilities
        wanted_set = frozenset(wanted)

        def brings_work(event: events_pb2.Event) -> bool:
            if event.type not in WORK_EVENT_TYPES or event.workspace_id != ctx.workspace_id:
                return False
            return event.type != "task.created" or event.task_created.task.kind in wanted_set

        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        # The first attempt writes unconditionally when the agent's last-seen
        # time is due; other attempts look before they take the write lock,
        # so many waiting agents do not queue writes for one new task.
        first = now_us() - agent.last_seen_time >= TOUCH_EVERY_US
        while True:
            seen = self._rt.hub.head
            if first or await self._rt.read_point(
                lambda conn: self._rt.tasks.has_queued(conn, ctx.workspace_id, wanted, now_us())
            ):
                grants = await self._try_acquire(ctx, agent, wanted, max_tasks)
            else:
                grants = []
            first = False
            remaining = deadline - loop.time()
            if grants or remaining <= 0:
                return grants
            with self._rt.activity.parked():
                if await self._rt.hub.wait_for_event(
                    seen, brings_work, min(remaining, ACQUIRE_POLL_S)
                ):
                    # Work arrived: give more of it a moment to arrive, so that
                    # one call takes several tasks instead of one call per task.
                    await asyncio.sleep(min(ACQUIRE_BATCH_S, max(deadline - loop.time(), 0.0)))

    async def _try_acquire(
        self,
        ctx: CallContext,
        agent: Agent,
        kinds: builtins.list[str],
        max_tasks: int,
    ) -> builtins.list[lifecycle.LeaseGrant]:
        """Leases what is queued; marks the agent as seen once its last-seen
        time is `TOUCH_EVERY_US` old."""

        def work(
            conn: sa.Connection, now: int
        ) -> tuple[list[lifecycle.LeaseGrant], list[EventDraft]]:
            active = (
                self._rt.tasks.active_leases_by_agent(conn, ctx.workspace_id, [agent.id])
            ).get(agent.id, 0)
            room = min(max_tasks, agent.max_concurrency - active)
            queued = (
                self._rt.tasks.next_queued(conn, ctx.workspace_id, kinds, now, room)
                if room > 0
                else []
            )
            if now - agent.last_seen_time >= TOUCH_EVERY_US:
                self._rt.agents.touch(conn, ctx.workspace_id, agent.id, now)
            grants: list[lifecycle.LeaseGrant] = []
            drafts: list[EventDraft] = []
            for task in queued:
                grant, events = lifecycle.start(task, agent.id, now)
                self._rt.tasks.update(conn, task)
                grants.append(grant)
                drafts += events
            return grants, drafts

        grants, _ = await self._rt.transact(ctx, work)
        return grants

    async def heartbeat(
        self, ctx: CallContext, agent_id: str, refs: builtins.list[LeaseRef]
    ) -> builtins.list[LeaseUpdate]:
        def work(conn: sa.Connection, now: int) -> tuple[list[LeaseUpdate], list[EventDraft]]:
            if not self._rt.agents.touch(conn, ctx.workspace_id, agent_id, now):
                raise NotFound("agent", agent_id)
            updates = []
            for ref in refs:
                task = self._rt.tasks.get(conn, ctx.workspace_id, ref.task_id, lock=True)
                if task is None or not lifecycle.lease_is_current(task, ref.lease_id, now):
                    updates.append(
                        LeaseUpdate(ref.task_id, ref.lease_id, agents_pb2.LEASE_STATUS_LOST, None)
                    )
                    continue
                lifecycle.extend_lease(task, now)
                self._rt.tasks.update(conn, task)
                status = (
                    agents_pb2.LEASE_STATUS_CANCEL_REQUESTED
                    if task.state == TaskState.CANCEL_REQUESTED
                    else agents_pb2.LEASE_STATUS_ACTIVE
                )
                updates.append(
                    LeaseUpdate(ref.task_id, ref.lease_id, status, task.lease_expire_time)
                )
            return updates, []

        updates, _ = await self._rt.transact(ctx, work)
        return updates

    async def _under_lease(
        self, ctx: CallContext, ref: LeaseRef, change: lifecycle.Transition
    ) -> tuple[Task, builtins.list[events_pb2.Event]]:
        """Applies a change to a leased task; a stale lease changes nothing."""

        def work(conn: sa.Connection, now: int) -> tuple[Task, list[EventDraft]]:
            task = self._rt.tasks.get(conn, ctx.workspace_id, ref.task_id, lock=True)
            if task is None:
                raise NotFound("task", ref.task_id)
            if not lifecycle.lease_is_current(task, ref.lease_id, now):
                raise StaleLease(ref.task_id)
            drafts = change(task, now)
            self._rt.tasks.update(conn, task)
            return task, drafts

        return await self._rt.transact(ctx, work)

    async def report(
        self, ctx: CallContext, ref: LeaseRef, drafts: builtins.list[EventDraft]
    ) -> builtins.list[int]:
        def change(task: Task, now: int) -> list[EventDraft]:
            lifecycle.extend_lease(task, now)
            return [
                dataclasses.replace(
                    draft,
                    task_id=task.id,
                    agent_id=task.agent_id,
                    execution_id=task.execution_id,
                    # Reported events belong to the task's call chain.
                    correlation_id=task.correlation_id,
                    traceparent=task.traceparent,
                )
                for draft in drafts
            ]

        _, events = await self._under_lease(ctx, ref, change)
        return [event.sequence for event in events]

    async def complete(self, ctx: CallContext, ref: LeaseRef, result_json: str) -> Task:
        task, _ = await self._under_lease(
            ctx, ref, lambda task, now: lifecycle.complete(task, result_json, now)
        )
        return task

    async def fail(self, ctx: CallContext, ref: LeaseRef, error: TaskError) -> Task:
        task, _ = await self._under_lease(
            ctx, ref, lambda task, now: lifecycle.fail(task, error, now)
        )
        return task
