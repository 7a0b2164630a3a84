"""Prometheus metrics: a workload through real gRPC moves each counter by
exactly its share, and the gauges read at scrape time match the store."""

from __future__ import annotations

import asyncio
import collections
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from taskplane.v1 import agents_pb2, events_pb2, tasks_pb2
from tests.conftest import BACKENDS, Deployment, server_settings
from tests.support.client import Api, acquire, create, ref, register, seconds
from tests.support.events import collect
from tests.support.servers import admin_key, fresh_postgres_database, postgres_url, running_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
POSTGRES_ONLY = {"taskplane_database_pool_checked_out", "taskplane_database_pool_size"}


@pytest.fixture(scope="module", params=BACKENDS)
async def metered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    """A server of its own (its gauges cover only this module's work) with metrics."""
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"data-metered-{backend}")
    overrides = {"metrics_listen_address": "127.0.0.1:0"}
    if backend == "postgres":
        if postgres_url() is None:
            pytest.skip("set TASKPLANE_TEST_DATABASE_URL to run against PostgreSQL")
        async with fresh_postgres_database() as url:
            settings = server_settings(data_dir, url, **overrides)
            async with running_server(settings) as server:
                yield Deployment(backend, server, settings, admin_key(data_dir))
        return
    settings = server_settings(data_dir, **overrides)
    async with running_server(settings) as server:
        yield Deployment(backend, server, settings, admin_key(data_dir))


async def exposition(deployment: Deployment) -> str:
    assert deployment.server.metrics_port > 0
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{deployment.server.metrics_port}/metrics")
    response.raise_for_status()
    return response.text


async def scrape(deployment: Deployment) -> Samples:
    text = await exposition(deployment)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def has(samples: Samples, name: str, **labels: str) -> bool:
    return any(n == name and set(labels.items()) <= have for n, have in samples)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def states_in_store(api: Api) -> collections.Counter[str]:
    states: collections.Counter[str] = collections.Counter()
    token = ""
    while True:
        page = await api.tasks.ListTasks(
            tasks_pb2.ListTasksRequest(page_size=1000, page_token=token)
        )
        states.update(
            tasks_pb2.TaskState.Name(task.state).removeprefix("TASK_STATE_").lower()
            for task in page.tasks
        )
        token = page.next_page_token
        if not token:
            return states


async def fail(api: Api, lease: agents_pb2.Lease) -> tasks_pb2.Task:
    response = await api.agents.FailTask(
        agents_pb2.FailTaskRequest(
            lease=ref(lease), error=tasks_pb2.TaskError(code="flaky", retryable=True)
        )
    )
    return response.task


async def head(api: Api) -> int:
    response = await api.events.ListEvents(events_pb2.ListEventsRequest(page_size=1))
    return response.head_sequence


async def test_workload_moves_each_counter_by_exactly_its_share(metered: Deployment) -> None:
    api = metered.client()
    kind, once, lapsing = (f"metrics-{name}-{uuid.uuid4().hex[:8]}" for name in "abc")
    single_attempt = tasks_pb2.RetryPolicy(max_attempts=1)
    start = await head(api)
    before = await scrape(metered)

    workers = [await register(api, k) for k in (kind, once, lapsing)]
    for _ in range(5):
        await create(api, kind)
    leases = await acquire(api, workers[0], max_tasks=3)
    assert len(leases) == 3
    for lease in leases[:2]:
        await api.agents.CompleteTask(agents_pb2.CompleteTaskRequest(lease=ref(lease)))
    assert (await fail(api, leases[2])).state == tasks_pb2.TASK_STATE_QUEUED
    await create(api, once, retry_policy=single_attempt)
    [lease] = await acquire(api, workers[1])
    assert (await fail(api, lease)).state == tasks_pb2.TASK_STATE_DEAD_LETTERED
    expiring = await create(
        api,
        lapsing,
        retry_policy=single_attempt,
        timeouts=tasks_pb2.TaskTimeouts(heartbeat=seconds(0.2)),
    )
    [lease] = await acquire(api, workers[2])
    # The reaper expires the lease; nobody heartbeats.
    parked = events_pb2.EventFilter(task_id=expiring.id, types=["task.dead_lettered"])
    seen, _ = await collect(
        api, events_pb2.SubscribeRequest(filter=parked, after_sequence=start), until=1
    )
    assert [event.type for event in seen] == ["task.dead_lettered"]
    with pytest.raises(Exception, match="NOT_FOUND"):
        await api.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id="tsk_missing"))
    after = await scrape(metered)
    appended = await head(api) - start
    store = await states_in_store(api)
    await api.close()

    rpcs = "taskplane_rpcs_total"
    assert delta(before, after, rpcs, method="taskplane.v1.TaskService/CreateTask", code="OK") == 7
    agents = "taskplane.v1.AgentService/"
    for method, calls in [("RegisterAgent", 3), ("AcquireTasks", 3), ("CompleteTask", 2)]:
        assert delta(before, after, rpcs, method=agents + method, code="OK") == calls
    assert delta(before, after, rpcs, method=agents + "FailTask", code="OK") == 2
    get = "taskplane.v1.TaskService/GetTask"
    assert delta(before, after, rpcs, method=get, code="NOT_FOUND") == 1
    assert delta(before, after, rpcs, code="INTERNAL") == 0
    histogram = "taskplane_rpc_duration_seconds_count"
    assert delta(before, after, histogram, method="taskplane.v1.TaskService/CreateTask") == 7

    events = "taskplane_events_appended_total"
    expected_events = {
        "agent.registered": 3,
        "task.created": 7,
        "task.started": 5,
        "execution.started": 5,
        "execution.completed": 5,
        "task.completed": 2,
        "error.occurred": 3,
        "task.retrying": 1,
        "task.dead_lettered": 2,
    }
    for event_type, count in expected_events.items():
        assert delta(before, after, events, type=event_type) == count, event_type
    assert delta(before, after, events) == appended == sum(expected_events.values())
    assert delta(before, after, "taskplane_task_retries_total") == 1
    assert delta(before, after, "taskplane_tasks_dead_lettered_total") == 2
    expiries = "taskplane_lease_expiries_total"
    assert delta(before, after, expiries, reason="lease_expired") == 1
    assert delta(before, after, expiries) == 1

    for state in ("queued", "running", "succeeded", "failed", "dead_lettered", "cancelled"):
        assert value(after, "taskplane_tasks", state=state) == store[state], state
    for state, moved in [("queued", 3), ("succeeded", 2), ("dead_lettered", 2), ("running", 0)]:
        assert delta(before, after, "taskplane_tasks", state=state) == moved, state
    assert value(after, "taskplane_queue_depth", kind=kind) == 3
    assert value(after, "taskplane_queue_oldest_age_seconds", kind=kind) >= 0
    assert not has(after, "taskplane_queue_depth", kind=once)
    for served in (kind, once, lapsing):
        assert value(after, "taskplane_agents_online", kind=served) == 1
    assert value(after, "taskplane_ready") == 1
    assert value(after, "taskplane_database_up") == 1
    assert value(after, "taskplane_database_calls_in_flight") >= 0
    if metered.backend == "postgres":
        pool_size = metered.settings.database_pool_size
        assert value(after, "taskplane_database_pool_size") == pool_size
        assert 0 <= value(after, "taskplane_database_pool_checked_out") <= pool_size
    else:
        assert not has(after, "taskplane_database_pool_size")


async def test_subscribers_are_counted_while_their_stream_is_open(metered: Deployment) -> None:
    api = metered.client()
    await create(api, f"metrics-sub-{uuid.uuid4().hex[:8]}")
    assert value(await scrape(metered), "taskplane_subscribers") == 0
    call = api.events.Subscribe(events_pb2.SubscribeRequest(after_sequence=0))
    first = await call.read()
    assert isinstance(first, events_pb2.SubscribeResponse) and first.HasField("batch")

    open_stream = await scrape(metered)
    assert value(open_stream, "taskplane_subscribers") == 1
    # It scanned the whole log before sending its first batch.
    assert value(open_stream, "taskplane_subscription_lag_events") == 0
    # One stream makes no paced round: no round yet, the gap at its longest.
    assert value(open_stream, "taskplane_delivery_round_seconds") == 0
    assert value(open_stream, "taskplane_delivery_gap_ratio") == 1
    call.cancel()
    for _ in range(500):
        if value(await scrape(metered), "taskplane_subscribers") == 0:
            break
        await asyncio.sleep(0.01)
    assert value(await scrape(metered), "taskplane_subscribers") == 0
    await api.close()


async def test_alert_rules_use_only_exposed_metrics(metered: Deployment) -> None:
    names = {"up"}
    for family in text_string_to_metric_families(await exposition(metered)):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    assert rules
    for rule in rules:
        assert rule["alert"].startswith("Taskplane")
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
        used = set(re.findall(r"\b(taskplane_[a-z_]+|up)\b", rule["expr"]))
        missing = used - names
        if metered.backend == "sqlite":
            missing -= POSTGRES_ONLY
        assert used and not missing, rule["alert"]
