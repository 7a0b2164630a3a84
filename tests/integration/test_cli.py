"""The `taskplane` command line against a real server, on SQLite and
PostgreSQL: in process through `taskplane.cli.run`, and once as the
installed console script."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import signal
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import duration_pb2

import taskplane
from taskplane.cli import run
from taskplane.cli import tasks as task_commands
from taskplane.cli.render import duration, table
from taskplane.cli.views import event_summary
from taskplane.v1 import agents_pb2, events_pb2, tasks_pb2
from tests.conftest import Deployment


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def environment(deployment: Deployment, **extra: str) -> dict[str, str]:
    return {
        "TASKPLANE_ADDRESS": deployment.address,
        "TASKPLANE_API_KEY": deployment.admin_key,
        **extra,
    }


async def cli(
    deployment: Deployment,
    *argv: str,
    environ: Mapping[str, str] | None = None,
    stderr: io.StringIO | None = None,
) -> Result:
    out, err = io.StringIO(), stderr or io.StringIO()
    code = await run(
        list(argv),
        stdout=out,
        stderr=err,
        environ=environment(deployment) if environ is None else environ,
    )
    return Result(code, out.getvalue(), err.getvalue())


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def lease_one(client: taskplane.Client, kind: str) -> agents_pb2.LeaseRef:
    agent = await client.register_agent(unique("cli-agent"), [kind])
    leases = await client.acquire_tasks(agent.id, wait_s=5, kinds=[kind])
    assert len(leases) == 1
    return agents_pb2.LeaseRef(task_id=leases[0].task.id, lease_id=leases[0].lease_id)


async def create_id(deployment: Deployment, *argv: str) -> str:
    created = await cli(deployment, "--json", "task", "create", *argv)
    assert created.code == 0, created.err
    task_id: str = created.json()["task"]["id"]
    return task_id


async def test_task_create_get_and_list(deployment: Deployment, tmp_path: Path) -> None:
    kind = unique("cli-create")
    request_id = unique("req")
    created = await cli(
        deployment,
        "--json",
        "task",
        "create",
        kind,
        "--input",
        '{"url": "https://example.com", "n": 2}',
        "--label",
        "team=docs",
        "--priority",
        "7",
        "--max-attempts",
        "4",
        "--request-id",
        request_id,
    )
    assert created.code == 0, created.err
    task = created.json()["task"]
    assert task["kind"] == kind
    assert task["input"] == {"url": "https://example.com", "n": 2}
    assert task["labels"] == {"team": "docs"}
    assert task["priority"] == 7
    assert task["retryPolicy"]["maxAttempts"] == 4
    assert task["state"] == "TASK_STATE_QUEUED"

    again = await cli(deployment, "--json", "task", "create", kind, "--request-id", request_id)
    assert again.json()["task"]["id"] == task["id"]
    assert again.json()["deduplicated"] is True
    assert "seen before" in again.err

    shown = await cli(deployment, "task", "get", task["id"])
    assert shown.code == 0
    fields = dict(line.split(":", 1) for line in shown.out.splitlines())
    assert fields["id"].strip() == task["id"]
    assert fields["state"].strip() == "QUEUED"
    assert fields["labels"].strip() == "team=docs"
    assert fields["attempt"].strip() == "0 of 4"
    assert json.loads(fields["input"]) == {"n": 2, "url": "https://example.com"}

    as_json = await cli(deployment, "task", "get", task["id"], "--json")
    assert as_json.json()["id"] == task["id"]

    input_file = tmp_path / "input.json"
    input_file.write_text('{"from": "file"}')
    second = await create_id(deployment, kind, "--input-file", str(input_file))
    assert (await cli(deployment, "--json", "task", "get", second)).json()["input"] == {
        "from": "file"
    }

    listed = await cli(deployment, "task", "list", "--kind", kind)
    header, *rows = listed.out.splitlines()
    assert header.split()[:3] == ["ID", "KIND", "STATE"]
    assert [row.split()[0] for row in rows] == [second, task["id"]]
    assert all(row.split()[1:3] == [kind, "QUEUED"] for row in rows)

    labelled = await cli(deployment, "--json", "task", "list", "--label", "team=docs")
    assert task["id"] in [t["id"] for t in labelled.json()["tasks"]]
    assert second not in [t["id"] for t in labelled.json()["tasks"]]


async def test_task_list_follows_pages_up_to_the_limit(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = unique("cli-pages")
    ids = [await create_id(deployment, kind) for _ in range(5)]
    monkeypatch.setattr(task_commands, "LIST_PAGE_SIZE", 2)

    limited = await cli(deployment, "--json", "task", "list", "--kind", kind, "--limit", "3")
    assert [t["id"] for t in limited.json()["tasks"]] == ids[::-1][:3]
    assert limited.json()["nextPageToken"]

    everything = await cli(deployment, "--json", "task", "list", "--kind", kind)
    assert [t["id"] for t in everything.json()["tasks"]] == ids[::-1]
    assert "nextPageToken" not in everything.json()

    queued = await cli(deployment, "task", "list", "--kind", kind, "--state", "succeeded")
    assert queued.out.strip() == "no tasks"


async def test_task_wait_exit_codes(deployment: Deployment, client: taskplane.Client) -> None:
    kind = unique("cli-wait")

    succeeding = await create_id(deployment, kind, "--input", '{"a": 1}')
    waiting = asyncio.create_task(cli(deployment, "task", "wait", succeeding, "--timeout", "30"))
    await client.complete_task(await lease_one(client, kind), {"answer": 42})
    succeeded = await asyncio.wait_for(waiting, 30)
    assert succeeded.code == 0, succeeded.err
    assert "SUCCEEDED" in succeeded.out
    assert '{"answer":42}' in succeeded.out

    failing = await create_id(deployment, kind)
    await client.fail_task(await lease_one(client, kind), "model refused", code="refused")
    failed = await cli(deployment, "--json", "task", "wait", failing)
    assert failed.code == 1
    assert failed.json()["state"] == "TASK_STATE_FAILED"
    assert failed.json()["error"]["message"] == "model refused"
    assert "FAILED" in failed.err

    cancelling = await create_id(deployment, kind)
    cancelled = await cli(deployment, "task", "cancel", cancelling, "--reason", "not needed")
    assert cancelled.code == 0
    assert "CANCELLED" in cancelled.out
    assert "not needed" in cancelled.out
    assert (await cli(deployment, "task", "wait", cancelling)).code == 1

    timed_out = await cli(
        deployment, "task", "create", unique("nobody-serves"), "--wait", "--timeout", "0.3"
    )
    assert timed_out.code == 2
    assert "timed out after 0.3s" in timed_out.err
    assert "QUEUED" in timed_out.out


async def test_task_wait_draws_progress_on_a_terminal(deployment: Deployment) -> None:
    task_id = await create_id(deployment, unique("cli-progress"))
    terminal = Terminal()
    waited = await cli(deployment, "task", "wait", task_id, "--timeout", "0.3", stderr=terminal)
    assert waited.code == 2
    assert f"\r\x1b[K| waiting for {task_id}" in waited.err
    assert waited.err.rstrip().endswith(f"timed out after 0.3s: task {task_id} is QUEUED")

    piped = await cli(deployment, "task", "wait", task_id, "--timeout", "0.1")
    assert "waiting for" not in piped.err


async def test_requeue_of_a_dead_lettered_task(
    deployment: Deployment, client: taskplane.Client
) -> None:
    kind = unique("cli-requeue")
    task_id = await create_id(deployment, kind, "--max-attempts", "1")
    await client.fail_task(await lease_one(client, kind), "flaky", retryable=True)
    assert (await client.get_task(task_id)).state == tasks_pb2.TASK_STATE_DEAD_LETTERED

    requeued = await cli(deployment, "--json", "task", "requeue", task_id)
    assert requeued.code == 0, requeued.err
    assert requeued.json()["state"] == "TASK_STATE_QUEUED"

    refused = await cli(deployment, "task", "requeue", task_id)
    assert refused.code == 1
    assert refused.err.startswith("error: FAILED_PRECONDITION: ")


async def finished_task_with_reports(client: taskplane.Client) -> str:
    kind = unique("cli-events")
    created = await client.create_task(kind, {"q": "why"})
    lease = await lease_one(client, kind)
    await client.report_events(
        lease,
        [
            agents_pb2.AgentReport(thinking=agents_pb2.AgentThinking(content="pondering")),
            agents_pb2.AgentReport(
                action=agents_pb2.AgentAction(
                    name="web.fetch",
                    status=agents_pb2.ACTION_STATUS_FAILED,
                    duration=duration_pb2.Duration(seconds=1, nanos=500_000_000),
                    error_message="timed out",
                )
            ),
            agents_pb2.AgentReport(
                message=agents_pb2.AgentMessage(role="assistant", content="because " * 40)
            ),
        ],
    )
    await client.complete_task(lease, {"ok": True})
    return created.task.id


EXPECTED_TYPES = [
    "task.created",
    "task.started",
    "execution.started",
    "agent.thinking",
    "agent.action",
    "agent.message",
    "execution.completed",
    "task.completed",
]


async def test_events_tail_prints_stored_events_in_order(
    deployment: Deployment, client: taskplane.Client
) -> None:
    task_id = await finished_task_with_reports(client)

    tailed = await cli(deployment, "events", "tail", "--task", task_id)
    assert tailed.code == 0, tailed.err
    lines = [line.split(maxsplit=4) for line in tailed.out.splitlines()]
    sequences = [int(line[0]) for line in lines]
    assert sequences == sorted(sequences)
    assert [line[2] for line in lines] == EXPECTED_TYPES
    assert {line[3] for line in lines} == {task_id}
    message = lines[EXPECTED_TYPES.index("agent.message")][4]
    assert message.startswith("assistant: because because")
    assert message.endswith("…")
    assert len(message) <= 100
    assert lines[EXPECTED_TYPES.index("agent.action")][4] == "web.fetch failed in 1.5s: timed out"

    as_json = await cli(deployment, "--json", "events", "tail", "--task", task_id)
    events = as_json.json_lines()
    assert [e["type"] for e in events] == EXPECTED_TYPES
    assert [int(e["sequence"]) for e in events] == sequences
    assert {e["taskId"] for e in events} == {task_id}

    later = await cli(deployment, "events", "tail", "--task", task_id, "--after", str(sequences[2]))
    assert [line.split()[2] for line in later.out.splitlines()] == EXPECTED_TYPES[3:]

    only = await cli(deployment, "events", "tail", "--task", task_id, "--type", "agent.thinking")
    assert [line.split()[2:] for line in only.out.splitlines()] == [
        ["agent.thinking", task_id, "pondering"]
    ]


async def test_events_tail_follow_ends_when_the_task_is_finished(
    deployment: Deployment, client: taskplane.Client
) -> None:
    kind = unique("cli-follow")
    created = await client.create_task(kind)
    following = asyncio.create_task(
        cli(deployment, "--json", "events", "tail", "--task", created.task.id, "--follow")
    )
    lease = await lease_one(client, kind)
    await client.report_events(
        lease, [agents_pb2.AgentReport(message=agents_pb2.AgentMessage(content="done soon"))]
    )
    await client.complete_task(lease, {"ok": True})

    followed = await asyncio.wait_for(following, 30)
    assert followed.code == 0, followed.err
    events = followed.json_lines()
    assert [e["type"] for e in events] == [
        "task.created",
        "task.started",
        "execution.started",
        "agent.message",
        "execution.completed",
        "task.completed",
    ]
    assert events[3]["agentMessage"]["content"] == "done soon"
    assert "end of stream" in followed.err


async def test_task_create_follow_prints_events_until_the_demo_worker_is_done(
    deployment: Deployment,
) -> None:
    worker = asyncio.create_task(cli(deployment, "worker", "demo", "--concurrency", "2"))
    try:
        followed = await cli(
            deployment, "task", "create", "demo.echo", "--input", '{"x": 1}', "--follow"
        )
        assert followed.code == 0, followed.err
        lines = [line.split(maxsplit=4) for line in followed.out.splitlines()]
        assert lines[0][2] == "task.created"
        assert lines[-1][2:4] == ["task.completed", lines[0][3]]
        assert lines[-1][4] == 'attempt 1, result {"echo":{"x":1}}'

        flaky = await cli(deployment, "--json", "task", "create", "demo.flaky", "-f")
        assert flaky.code == 0, flaky.err
        types = [event["type"] for event in flaky.json_lines()]
        assert "task.retrying" in types
        assert types[-1] == "task.completed"
    finally:
        if not worker.done():  # the worker stops on SIGTERM, as from a terminal
            os.kill(os.getpid(), signal.SIGTERM)
        stopped = await asyncio.wait_for(worker, 30)
    assert stopped.code == 0, stopped.err
    assert "demo agent serving demo.ask" in stopped.err
    assert stopped.err.rstrip().endswith("stopped")


async def test_task_create_follow_times_out(deployment: Deployment) -> None:
    kind = unique("nobody-serves")
    followed = await cli(deployment, "task", "create", kind, "--follow", "--timeout", "0.3")
    assert followed.code == 2
    [line] = followed.out.splitlines()
    assert line.split()[2] == "task.created"
    assert "timed out after 0.3s" in followed.err
    assert "is QUEUED" in followed.err

    misused = await cli(deployment, "task", "create", kind, "--timeout", "3")
    assert misused.code == 2
    assert misused.err.strip() == "error: --timeout needs --wait or --follow"


async def test_agents_list_shows_a_registered_agent(
    deployment: Deployment, client: taskplane.Client
) -> None:
    name = unique("cli-lister")
    agent = await client.register_agent(name, ["cli-list-kind"], version="2.1")

    listed = await cli(deployment, "agents", "list")
    assert listed.code == 0
    header, *rows = listed.out.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STATUS"]
    [row] = [row.split() for row in rows if row.startswith(agent.id)]
    assert row[1:5] == [name, "ONLINE", "0/1", "2.1"]
    assert row[-1] == "cli-list-kind"

    online = await cli(deployment, "--json", "agents", "list", "--status", "online")
    assert agent.id in [a["id"] for a in online.json()["agents"]]
    offline = await cli(deployment, "--json", "agents", "list", "--status", "offline")
    assert agent.id not in [a["id"] for a in offline.json().get("agents", [])]


async def test_keys_create_list_and_revoke(deployment: Deployment) -> None:
    name = unique("cli-key")
    created = await cli(deployment, "keys", "create", "--role", "viewer", "--name", name)
    assert created.code == 0, created.err
    fields = {
        key.strip(): value.strip()
        for key, value in (line.split(":", 1) for line in created.out.splitlines())
    }
    key_id, secret = fields["id"], fields["secret"]
    assert fields["role"] == "viewer"
    assert fields["name"] == name
    assert "not shown again" in created.err

    as_viewer = await cli(deployment, "status", "--api-key", secret)
    assert as_viewer.code == 0, as_viewer.err

    listed = await cli(deployment, "keys", "list")
    [row] = [line.split() for line in listed.out.splitlines() if line.startswith(key_id)]
    assert row[1:4] == [name, "viewer", "active"]
    assert secret not in listed.out

    revoked = await cli(deployment, "--json", "keys", "revoke", key_id)
    assert revoked.code == 0
    assert revoked.json()["id"] == key_id
    assert revoked.json()["revokeTime"]

    assert key_id not in (await cli(deployment, "keys", "list")).out
    everything = await cli(deployment, "keys", "list", "--all")
    [row] = [line.split() for line in everything.out.splitlines() if line.startswith(key_id)]
    assert row[3] == "revoked"

    refused = await cli(deployment, "status", "--api-key", secret)
    assert refused.code == 1
    assert refused.err.startswith("error: UNAUTHENTICATED: ")
    assert "--api-key" in refused.err
    assert secret not in refused.err


async def test_status(deployment: Deployment, client: taskplane.Client) -> None:
    kind = unique("cli-status")
    await client.register_agent(unique("cli-status-agent"), [kind])
    await client.create_task(kind)
    shown = await cli(deployment, "status")
    assert shown.code == 0
    summary, dependencies, capabilities = shown.out.split("\n\n")
    fields = {k: v.strip() for k, v in (line.split(":", 1) for line in summary.splitlines())}
    assert fields["ready"] == "yes"
    assert fields["version"]
    header, *rows = dependencies.splitlines()
    assert header.split() == ["DEPENDENCY", "STATE", "LATENCY", "CRITICAL", "DETAIL"]
    assert rows[0].split()[:2] == ["database", "ok"]
    header, *rows = capabilities.splitlines()
    assert header.split() == ["KIND", "ONLINE", "AGENTS", "QUEUED", "TASKS"]
    assert [kind, "1", "1"] in [row.split() for row in rows]
    assert deployment.admin_key not in shown.out + shown.err

    as_json = await cli(deployment, "status", "--json")
    document = as_json.json()
    assert document["ready"] is True
    assert "database" in [d["name"] for d in document["dependencies"]]


async def test_an_error_prints_code_and_correlation_id_without_traceback(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TASKPLANE_ADDRESS", deployment.address)
    monkeypatch.setenv("TASKPLANE_API_KEY", deployment.admin_key)
    code = await run(["task", "get", "tsk_missing"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith("error: NOT_FOUND: ")
    assert "tsk_missing" in captured.err
    assert "(correlation id " in captured.err
    assert "Traceback" not in captured.err


async def test_invalid_argument_lists_field_violations(deployment: Deployment) -> None:
    rejected = await cli(deployment, "task", "create", "", "--priority", "1000000")
    assert rejected.code == 1
    first, *violations = rejected.err.splitlines()
    assert first.startswith("error: INVALID_ARGUMENT: ")
    assert {line.split(":")[0].strip() for line in violations} >= {"task.kind", "task.priority"}


async def test_missing_api_key_tells_how_to_pass_one(
    deployment: Deployment, tmp_path: Path
) -> None:
    environ = {"TASKPLANE_ADDRESS": deployment.address, "TASKPLANE_DATA_DIR": str(tmp_path)}
    missing = await cli(deployment, "status", environ=environ)
    assert missing.code == 2
    assert missing.out == ""
    assert missing.err.startswith("error: no API key: pass --api-key KEY or set TASKPLANE_API_KEY")
    assert str(tmp_path / "admin.key") in missing.err


async def test_unreachable_server_names_the_address(deployment: Deployment) -> None:
    environ = {"TASKPLANE_API_KEY": "tp_fake"}  # pragma: allowlist secret
    failed = await cli(
        deployment, "--address", "127.0.0.1:1", "--timeout", "5", "status", environ=environ
    )
    assert failed.code == 1
    assert failed.err.startswith("error: UNAVAILABLE: ")
    assert "cannot reach a Taskplane server at 127.0.0.1:1" in failed.err
    assert "tp_fake" not in failed.err


@pytest.mark.parametrize(
    "argv",
    [
        ["task", "list", "--state", "sleeping"],
        ["task", "create", "k", "--input", "[1, 2]"],
        ["task", "create", "k", "--input", "{nope"],
        ["events", "tail", "--after", "1", "--from-beginning"],
        ["keys", "create"],
        ["task"],
    ],
)
async def test_usage_errors_exit_2(deployment: Deployment, argv: list[str]) -> None:
    result = await cli(deployment, *argv)
    assert result.code == 2
    assert "usage: taskplane" in result.err


async def test_console_script_uses_the_admin_key_of_the_data_dir(deployment: Deployment) -> None:
    script = Path(sys.executable).with_name("taskplane")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "taskplane.cli"]
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TASKPLANE_API_KEY", "TASKPLANE_ADDRESS")
    }
    environ["TASKPLANE_ADDRESS"] = deployment.address
    environ["TASKPLANE_DATA_DIR"] = str(deployment.settings.data_dir)
    process = await asyncio.create_subprocess_exec(
        *command,
        "status",
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "ready:   yes" in out.decode()
    assert deployment.admin_key not in out.decode() + err.decode()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0123, "12ms"),
        (4.26, "4.3s"),
        (302, "5m02s"),
        (3 * 3600 + 240, "3h04m"),
        (183600, "2d03h"),
    ],
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_tables_align_columns() -> None:
    assert table(("ID", "NAME"), [("a", "x"), ("long-id", "y")]).splitlines() == [
        "ID       NAME",
        "a        x",
        "long-id  y",
    ]


@pytest.mark.parametrize(
    ("event", "summary"),
    [
        (
            events_pb2.Event(
                task_dead_lettered=events_pb2.TaskDeadLettered(
                    error=tasks_pb2.TaskError(code="llm", message="rate limited", retryable=True),
                    attempts=3,
                )
            ),
            "after 3 attempts: llm: rate limited (retryable)",
        ),
        (
            events_pb2.Event(task_requeued=events_pb2.TaskRequeued(remaining_attempts=2)),
            "2 attempts left",
        ),
        (
            events_pb2.Event(
                agent_thinking=agents_pb2.AgentThinking(
                    content="line one\nline two",
                    guard_findings=[tasks_pb2.GuardFinding(detector="override")],
                )
            ),
            "line one line two [guard: 1 finding]",
        ),
        (events_pb2.Event(), ""),
    ],
)
def test_event_summaries(event: events_pb2.Event, summary: str) -> None:
    assert event_summary(event) == summary
