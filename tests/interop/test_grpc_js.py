"""A Node.js client on @grpc/grpc-js (tests/interop/node/client.js) against
the real server of each storage backend: a unary call, a server stream it
cancels, and errors whose google.rpc details it decodes itself."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2

from taskplane.v1 import events_pb2, tasks_pb2
from tests.conftest import Deployment
from tests.support.client import Api

NODE = shutil.which("node")
NODE_DIR = Path(__file__).parent / "node"
REPO = Path(__file__).resolve().parents[2]
# The installed googleapis-common-protos: google/api/field_behavior.proto and
# google/rpc/{status,error_details}.proto sit next to their _pb2 modules.
GOOGLEAPIS = Path(status_pb2.__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture(scope="session")
def node_client() -> Path:
    """client.js, with its locked dependencies installed (scripts/test and
    .ci/run install them first; this covers a plain pytest run)."""
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("node is installed but npm is not: cannot install tests/interop/node")
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            timeout=600,
        )
    return NODE_DIR / "client.js"


async def run_client(client: Path, deployment: Deployment, kind: str) -> dict[str, Any]:
    # Asynchronously: the server under test runs on this event loop.
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(client),
        "--address",
        deployment.address,
        "--kind",
        kind,
        "--proto-dir",
        str(REPO / "proto"),
        "--googleapis-dir",
        str(GOOGLEAPIS),
        env={**os.environ, "TASKPLANE_API_KEY": deployment.admin_key},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result


async def test_grpc_js_client_calls_streams_and_decodes_errors(
    node_client: Path, deployment: Deployment, api: Api
) -> None:
    kind = f"node-{uuid.uuid4().hex[:10]}"
    result = await run_client(node_client, deployment, kind)

    created = result["created"]
    task_id = created["id"]
    assert task_id.startswith("tsk_") and len(task_id) == 30
    assert created == {
        "id": task_id,
        "kind": kind,
        "state": "TASK_STATE_QUEUED",
        "priority": 5,
        "labels": {"client": "grpc-js"},
        "input": {"url": "https://example.com", "pages": 3, "deep": True},
        "requestId": f"node-{kind}",
        "deduplicated": False,
    }

    # The stream: task.created replayed, then live the events of the
    # acquisition, after which the client cancelled it.
    stream = result["stream"]
    assert stream["endedWith"] == "CANCELLED"
    assert stream["leasedTaskId"] == task_id
    seen = stream["events"]
    assert [(e["type"], e["payload"]) for e in seen] == [
        ("task.created", "taskCreated"),
        ("task.started", "taskStarted"),
        ("execution.started", "executionStarted"),
    ]
    assert {e["taskId"] for e in seen} == {task_id}
    # int64 sequences arrive as strings; they match the log the server kept.
    logged = await api.events.ListEvents(
        events_pb2.ListEventsRequest(filter=events_pb2.EventFilter(task_id=task_id))
    )
    assert [(e["type"], int(e["sequence"])) for e in seen] == [
        (e.type, e.sequence) for e in logged.events[:3]
    ]

    assert result["completed"] == {"state": "TASK_STATE_SUCCEEDED", "result": {"ok": True}}
    stored = (await api.tasks.GetTask(tasks_pb2.GetTaskRequest(task_id=task_id))).task
    assert stored.state == tasks_pb2.TASK_STATE_SUCCEEDED
    assert stored.kind == kind
    assert json_format.MessageToDict(stored.input) == created["input"]
    assert dict(stored.labels) == {"client": "grpc-js"}

    # INVALID_ARGUMENT with google.rpc.Status from grpc-status-details-bin.
    invalid = result["invalid"]
    assert invalid["code"] == 3 and invalid["codeName"] == "INVALID_ARGUMENT"
    status = invalid["status"]
    assert status["code"] == 3
    assert status["message"] == invalid["details"]
    by_type = {d["@type"]: d for d in status["details"]}
    bad_request = by_type["type.googleapis.com/google.rpc.BadRequest"]
    assert {v["field"] for v in bad_request["fieldViolations"]} == {"task.kind", "task.priority"}
    assert all(v["description"] for v in bad_request["fieldViolations"])
    info = by_type["type.googleapis.com/google.rpc.ErrorInfo"]
    assert info["domain"] == "taskplane.dev" and info["reason"] == "INVALID_ARGUMENT"

    unauthenticated = result["unauthenticated"]
    assert unauthenticated["code"] == 16
    assert unauthenticated["codeName"] == "UNAUTHENTICATED"
