"""Agent registration, cards and online status."""

from __future__ import annotations

import uuid

import grpc
import pytest

from taskplane.v1 import agents_pb2
from tests.support.client import Api


async def test_register_is_idempotent_and_the_card_round_trips(api: Api) -> None:
    card = agents_pb2.Agent(
        name="summarizer",
        version="1.2.3",
        description="Summarizes documents",
        capabilities=["summarize", "translate"],
        max_concurrency=4,
        labels={"team": "docs"},
    )
    request = agents_pb2.RegisterAgentRequest(agent=card, request_id=uuid.uuid4().hex)
    first = (await api.agents.RegisterAgent(request)).agent
    second = (await api.agents.RegisterAgent(request)).agent
    assert first.id == second.id
    fetched = (await api.agents.GetAgent(agents_pb2.GetAgentRequest(agent_id=first.id))).agent
    assert fetched.name == "summarizer" and fetched.version == "1.2.3"
    assert list(fetched.capabilities) == ["summarize", "translate"]
    assert fetched.max_concurrency == 4 and dict(fetched.labels) == {"team": "docs"}
    assert fetched.status == agents_pb2.AGENT_STATUS_ONLINE
    assert fetched.active_leases == 0


async def test_list_agents_filters_by_capability_and_status(api: Api) -> None:
    kind = f"cap-{uuid.uuid4().hex[:8]}"
    ids = []
    for index in range(3):
        response = await api.agents.RegisterAgent(
            agents_pb2.RegisterAgentRequest(
                agent=agents_pb2.Agent(name=f"a{index}", capabilities=[kind])
            )
        )
        ids.append(response.agent.id)
    seen: list[str] = []
    request = agents_pb2.ListAgentsRequest(capability=kind, page_size=2)
    while True:
        page = await api.agents.ListAgents(request)
        seen += [agent.id for agent in page.agents]
        if not page.next_page_token:
            break
        request = agents_pb2.ListAgentsRequest(
            capability=kind, page_size=2, page_token=page.next_page_token
        )
    assert seen == ids
    offline = await api.agents.ListAgents(
        agents_pb2.ListAgentsRequest(capability=kind, status=agents_pb2.AGENT_STATUS_OFFLINE)
    )
    assert list(offline.agents) == []


async def test_register_without_capabilities_is_invalid(api: Api) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.agents.RegisterAgent(
            agents_pb2.RegisterAgentRequest(agent=agents_pb2.Agent(name="idle"))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_heartbeat_of_an_unknown_agent_is_not_found(api: Api) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.agents.Heartbeat(
            agents_pb2.HeartbeatRequest(agent_id="agt_00000000000000000000000000")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
