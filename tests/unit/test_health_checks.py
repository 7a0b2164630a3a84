"""The agents check: supply of online agents per task kind."""

from __future__ import annotations

from server.engine.health_checks import Capability, CheckState, capability_supply, supply_verdict

NOW = 1_000_000


def test_supply_counts_online_agents_per_kind_and_lists_queued_kinds() -> None:
    agents = [
        (["summarize", "translate"], NOW),
        (["summarize", "summarize"], NOW - 10),
        (["translate"], NOW - 500),  # offline
    ]
    supply = capability_supply(agents, {"translate": 4, "classify": 2}, online_since=NOW - 100)
    assert supply == [
        Capability("classify", online_agents=0, queued_tasks=2),
        Capability("summarize", online_agents=2, queued_tasks=0),
        Capability("translate", online_agents=1, queued_tasks=4),
    ]


def test_a_queued_kind_without_an_online_agent_degrades_the_check() -> None:
    state, detail = supply_verdict(
        [Capability("classify", 0, 2), Capability("summarize", 2, 0), Capability("idle", 0, 0)]
    )
    assert state == CheckState.DEGRADED
    assert detail.endswith(": classify")


def test_every_queued_kind_served_is_ok() -> None:
    state, detail = supply_verdict([Capability("summarize", 1, 3), Capability("idle", 0, 0)])
    assert state == CheckState.OK
    assert detail == "1 of 2 kinds have online agents"
    assert supply_verdict([]) == (CheckState.OK, "0 of 0 kinds have online agents")
