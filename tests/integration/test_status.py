"""StatusService.GetStatus on a healthy deployment: version, uptime, every
dependency check, and the agents serving each task kind of the workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server import __version__
from server.store.migrate import head_revision
from taskplane.v1 import status_pb2, workspaces_pb2
from tests.conftest import Deployment
from tests.support.client import Api, create, register

CHECKS = {"database", "notification_listener", "event_hub", "agents"}
OK = status_pb2.DEPENDENCY_STATE_OK


@pytest.fixture
async def workspace_api(api: Api, deployment: Deployment) -> AsyncIterator[Api]:
    """An admin client of a new, empty workspace."""
    created = await api.workspaces.CreateWorkspace(
        workspaces_pb2.CreateWorkspaceRequest(
            workspace=workspaces_pb2.Workspace(display_name="status")
        )
    )
    client = deployment.client(created.admin_key_secret)
    yield client
    await client.close()


async def status_of(
    api: Api,
) -> tuple[status_pb2.GetStatusResponse, dict[str, status_pb2.DependencyStatus]]:
    status = await api.status.GetStatus(status_pb2.GetStatusRequest())
    return status, {check.name: check for check in status.dependencies}


def supply(status: status_pb2.GetStatusResponse) -> list[tuple[str, int, int]]:
    return [(c.kind, c.online_agents, c.queued_tasks) for c in status.capabilities]


async def test_every_check_reports_state_latency_and_detail(
    api: Api, deployment: Deployment
) -> None:
    status, checks = await status_of(api)
    assert status.version == __version__ and status.ready
    assert status.uptime.ToNanoseconds() > 0
    assert status.start_time.ToNanoseconds() > 0
    assert set(checks) == CHECKS and len(status.dependencies) == len(CHECKS)
    for check in checks.values():
        assert check.state != status_pb2.DEPENDENCY_STATE_UNSPECIFIED, check.name
        assert check.HasField("latency") and check.latency.ToNanoseconds() >= 0, check.name
        assert check.detail, check.name
    assert [name for name, check in checks.items() if check.critical] == ["database"]

    database = checks["database"]
    assert database.state == OK
    backend = "PostgreSQL" if deployment.backend == "postgres" else "SQLite"
    head = head_revision()
    assert database.detail == f"{backend}, schema at {head}, expected {head}"

    listener = checks["notification_listener"]
    if deployment.backend == "postgres":
        assert listener.state == OK and "LISTEN" in listener.detail
    else:
        assert listener.state == status_pb2.DEPENDENCY_STATE_NOT_APPLICABLE

    hub = checks["event_hub"]
    assert hub.state == OK
    assert "store head" in hub.detail and "hub head" in hub.detail


async def test_agents_per_capability_of_the_callers_workspace(api: Api, workspace_api: Api) -> None:
    status, checks = await status_of(workspace_api)
    assert list(status.capabilities) == []
    assert checks["agents"].state == OK

    await register(workspace_api, "status-summarize")
    await create(workspace_api, "status-translate")
    await create(workspace_api, "status-translate")
    status, checks = await status_of(workspace_api)
    assert supply(status) == [
        ("status-summarize", 1, 0),
        ("status-translate", 0, 2),
    ]
    assert checks["agents"].state == status_pb2.DEPENDENCY_STATE_DEGRADED
    assert checks["agents"].detail.endswith(": status-translate")
    assert status.ready  # agents are not critical

    await register(workspace_api, "status-translate", "status-summarize", name="second")
    status, checks = await status_of(workspace_api)
    assert supply(status) == [
        ("status-summarize", 2, 0),
        ("status-translate", 1, 2),
    ]
    assert checks["agents"].state == OK

    # Another workspace's status knows nothing of these kinds.
    theirs, _ = await status_of(api)
    assert not {"status-summarize", "status-translate"} & {c.kind for c in theirs.capabilities}
