"""AgentService: the worker protocol."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import json_format

from server.api.call import current_call
from server.api.pagination import Keyset
from server.api.validation import (
    Checker,
    struct_json,
)
from server.core import protos
from server.core.clock import now_us
from server.core.model import Agent, EventDraft, TaskError
from server.engine.agents import AgentCard, AgentCommands, LeaseRef
from server.security.screening import Screener, findings_proto
from taskplane.v1 import agents_pb2, agents_pb2_grpc

MAX_ACQUIRE_WAIT_S = 60.0
MAX_REPORTS = 100
Context = grpc.aio.ServicerContext[Any, Any]


def parse_lease(check: Checker, ref: agents_pb2.LeaseRef, field: str, present: bool) -> LeaseRef:
    if not present:
        check.add(field, "is required")
        return LeaseRef("", "")
    check.resource_id(f"{field}.task_id", ref.task_id)
    check.resource_id(f"{field}.lease_id", ref.lease_id)
    return LeaseRef(ref.task_id, ref.lease_id)


def parse_report(check: Checker, report: agents_pb2.AgentReport, field: str) -> EventDraft | None:
    kind = report.WhichOneof("report")
    if kind == "message":
        message = agents_pb2.AgentMessage()
        message.CopyFrom(report.message)
        del message.guard_findings[:]
        check.text(f"{field}.message.role", message.role, max_len=64)
        check.text(f"{field}.message.content", message.content, max_len=1_000_000)
        if not message.role:
            message.role = "assistant"
        return EventDraft("agent.message", message)
    if kind == "thinking":
        thinking = agents_pb2.AgentThinking(content=report.thinking.content)
        check.text(f"{field}.thinking.content", thinking.content, max_len=1_000_000)
        return EventDraft("agent.thinking", thinking)
    if kind == "action":
        action = agents_pb2.AgentAction()
        action.CopyFrom(report.action)
        del action.guard_findings[:]
        check.text(f"{field}.action.name", action.name, max_len=128, required=True)
        struct_json(check, f"{field}.action.arguments", action.arguments)
        struct_json(check, f"{field}.action.output", action.output)
        check.text(f"{field}.action.error_message", action.error_message, max_len=10_000)
        return EventDraft("agent.action", action)
    check.add(field, "must set message, thinking or action")
    return None


def screen_report(screener: Screener, draft: EventDraft, field: str) -> None:
    """Records the guard's findings on a reported message, thought or action
    (or raises under the block policy)."""
    payload = draft.payload
    if isinstance(payload, agents_pb2.AgentMessage):
        found = screener.screen(payload.content, f"{field}.message.content")
    elif isinstance(payload, agents_pb2.AgentThinking):
        found = screener.screen(payload.content, f"{field}.thinking.content")
    elif isinstance(payload, agents_pb2.AgentAction):
        output = json_format.MessageToDict(payload.output)
        found = screener.screen(output, f"{field}.action.output")
    else:  # pragma: no cover - parse_report builds only these
        return
    payload.guard_findings.extend(findings_proto(found))


class AgentServicer(agents_pb2_grpc.AgentServiceServicer):
    def __init__(self, commands: AgentCommands, screener: Screener) -> None:
        self._agents = commands
        self._screener = screener

    async def RegisterAgent(
        self, request: agents_pb2.RegisterAgentRequest, context: Context
    ) -> agents_pb2.RegisterAgentResponse:
        check = Checker()
        card = request.agent
        check.text("agent.name", card.name, max_len=128, required=True)
        check.text("agent.version", card.version, max_len=128)
        check.text("agent.description", card.description, max_len=10_000)
        if not card.capabilities:
            check.add("agent.capabilities", "at least one task kind is required")
        if len(card.capabilities) > 100:
            check.add("agent.capabilities", "at most 100 task kinds")
        for index, kind in enumerate(card.capabilities[:100]):
            check.kind(f"agent.capabilities[{index}]", kind)
        check.int_range("agent.max_concurrency", card.max_concurrency, 0, 10_000)
        check.labels("agent.labels", dict(card.labels))
        check.request_id("request_id", request.request_id)
        check.done()
        agent = await self._agents.register(
            current_call().context(),
            AgentCard(
                name=card.name,
                version=card.version,
                description=card.description,
                capabilities=list(dict.fromkeys(card.capabilities)),
                max_concurrency=card.max_concurrency,
                labels=dict(card.labels),
            ),
            request.request_id or None,
        )
        return agents_pb2.RegisterAgentResponse(agent=protos.agent_to_proto(agent, online=True))

    async def GetAgent(
        self, request: agents_pb2.GetAgentRequest, context: Context
    ) -> agents_pb2.GetAgentResponse:
        check = Checker()
        check.resource_id("agent_id", request.agent_id)
        check.done()
        agent = await self._agents.get(current_call().workspace_id, request.agent_id)
        online = self._agents.is_online(agent, now_us())
        return agents_pb2.GetAgentResponse(agent=protos.agent_to_proto(agent, online=online))

    async def ListAgents(
        self, request: agents_pb2.ListAgentsRequest, context: Context
    ) -> agents_pb2.ListAgentsResponse:
        check = Checker()
        limit = check.page_size("page_size", request.page_size, default=50, cap=500)
        if request.capability:
            check.kind("capability", request.capability)
        check.done()
        workspace_id = current_call().workspace_id
        keyset = Keyset(request.page_token, workspace_id, request.capability, int(request.status))
        after = keyset.position
        online = {
            agents_pb2.AGENT_STATUS_ONLINE: True,
            agents_pb2.AGENT_STATUS_OFFLINE: False,
        }.get(request.status)
        agents: list[Agent] = []
        # Capability filtering happens here (capabilities are a JSON list).
        while len(agents) <= limit:
            page = await self._agents.list(
                workspace_id, after=after, limit=limit + 1, online=online
            )
            if not page:
                break
            after = (page[-1].create_time, page[-1].id)
            agents += [
                a for a in page if not request.capability or request.capability in a.capabilities
            ]
            if len(page) <= limit:
                break
        agents, token = keyset.page(agents, limit)
        now = now_us()
        return agents_pb2.ListAgentsResponse(
            agents=[
                protos.agent_to_proto(a, online=self._agents.is_online(a, now)) for a in agents
            ],
            next_page_token=token,
        )

    async def AcquireTasks(
        self, request: agents_pb2.AcquireTasksRequest, context: Context
    ) -> agents_pb2.AcquireTasksResponse:
        check = Checker()
        check.resource_id("agent_id", request.agent_id)
        check.int_range("max_tasks", request.max_tasks, 0, 10_000)
        wait_us = check.duration_us("wait", request.wait, request.HasField("wait"), max_s=3600)
        for index, kind in enumerate(request.kinds):
            check.kind(f"kinds[{index}]", kind)
        check.done()
        wait_s = min(wait_us / 1e6, MAX_ACQUIRE_WAIT_S)
        remaining = context.time_remaining()
        if remaining is not None:
            wait_s = max(min(wait_s, remaining - 0.1), 0.0)
        grants = await self._agents.acquire(
            current_call().context(),
            request.agent_id,
            min(request.max_tasks or 1, 100),
            wait_s,
            list(dict.fromkeys(request.kinds)),
        )
        return agents_pb2.AcquireTasksResponse(
            leases=[
                agents_pb2.Lease(
                    lease_id=grant.lease_id,
                    task=protos.task_to_proto(grant.task),
                    attempt=grant.task.attempt,
                    execution_id=grant.task.execution_id,
                    expire_time=protos.timestamp(grant.expire_time),
                )
                for grant in grants
            ]
        )

    async def Heartbeat(
        self, request: agents_pb2.HeartbeatRequest, context: Context
    ) -> agents_pb2.HeartbeatResponse:
        check = Checker()
        check.resource_id("agent_id", request.agent_id)
        if len(request.leases) > 1000:
            check.add("leases", "at most 1000 leases per heartbeat")
        refs = [
            parse_lease(check, ref, f"leases[{index}]", True)
            for index, ref in enumerate(request.leases[:1000])
        ]
        check.done()
        updates = await self._agents.heartbeat(current_call().context(), request.agent_id, refs)
        return agents_pb2.HeartbeatResponse(
            leases=[
                agents_pb2.LeaseUpdate(
                    task_id=update.task_id,
                    lease_id=update.lease_id,
                    status=update.status,  # type: ignore[arg-type]
                    expire_time=protos.timestamp(update.expire_time),
                )
                for update in updates
            ]
        )

    async def ReportEvents(
        self, request: agents_pb2.ReportEventsRequest, context: Context
    ) -> agents_pb2.ReportEventsResponse:
        check = Checker()
        ref = parse_lease(check, request.lease, "lease", request.HasField("lease"))
        if not 1 <= len(request.reports) <= MAX_REPORTS:
            check.add("reports", f"must hold 1 to {MAX_REPORTS} reports")
        drafts = [
            parse_report(check, report, f"reports[{index}]")
            for index, report in enumerate(request.reports[:MAX_REPORTS])
        ]
        check.done()
        for index, draft in enumerate(drafts):
            if draft is not None:
                screen_report(self._screener, draft, f"reports[{index}]")
        sequences = await self._agents.report(
            current_call().context(), ref, [draft for draft in drafts if draft is not None]
        )
        return agents_pb2.ReportEventsResponse(sequences=sequences)

    async def CompleteTask(
        self, request: agents_pb2.CompleteTaskRequest, context: Context
    ) -> agents_pb2.CompleteTaskResponse:
        check = Checker()
        ref = parse_lease(check, request.lease, "lease", request.HasField("lease"))
        result_json = struct_json(check, "result", request.result)
        check.done()
        task = await self._agents.complete(current_call().context(), ref, result_json)
        return agents_pb2.CompleteTaskResponse(task=protos.task_to_proto(task))

    async def FailTask(
        self, request: agents_pb2.FailTaskRequest, context: Context
    ) -> agents_pb2.FailTaskResponse:
        check = Checker()
        ref = parse_lease(check, request.lease, "lease", request.HasField("lease"))
        error = request.error
        if not request.HasField("error"):
            check.add("error", "is required")
        else:
            check.text("error.code", error.code, max_len=128, required=True)
            check.text("error.message", error.message, max_len=10_000)
        details = (
            struct_json(check, "error.details", error.details) if error.HasField("details") else ""
        )
        check.done()
        task = await self._agents.fail(
            current_call().context(),
            ref,
            TaskError(error.code, error.message, error.retryable, details),
        )
        return agents_pb2.FailTaskResponse(task=protos.task_to_proto(task))
