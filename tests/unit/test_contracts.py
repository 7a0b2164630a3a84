"""The contracts check the code: every RPC, message, field, enum value and
event type is documented, catalogued, authorized and implemented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from server.api.registry import service_bindings
from server.config import Settings
from server.security.permissions import PERMISSIONS
from taskplane.event_types import EVENT_TYPES, field_of_type, type_of_field
from taskplane.v1 import agents_pb2, events_pb2, status_pb2, tasks_pb2, workspaces_pb2

ROOT = Path(__file__).resolve().parents[2]
FILES = [tasks_pb2, agents_pb2, events_pb2, workspaces_pb2, status_pb2]
SERVICES = [s for f in FILES for s in f.DESCRIPTOR.services_by_name.values()]

# SourceCodeInfo paths (field numbers in descriptor.proto).
MESSAGE, ENUM, SERVICE = 4, 5, 6
FIELD, NESTED, NESTED_ENUM, ONEOF = 2, 3, 4, 8
VALUE, METHOD = 2, 2


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    buf = shutil.which("buf")
    assert buf, "buf must be installed (dev dependency buf-bin)"
    out = tmp_path_factory.mktemp("image") / "image.binpb"
    subprocess.run([buf, "build", "-o", str(out)], cwd=ROOT, check=True)
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _comment_paths(file: descriptor_pb2.FileDescriptorProto) -> set[tuple[int, ...]]:
    return {
        tuple(loc.path) for loc in file.source_code_info.location if loc.leading_comments.strip()
    }


def _message_elements(
    msg: descriptor_pb2.DescriptorProto, path: tuple[int, ...], prefix: str
) -> list[tuple[tuple[int, ...], str]]:
    found = [(path, prefix)]
    found += [((*path, FIELD, i), f"{prefix}.{f.name}") for i, f in enumerate(msg.field)]
    found += [
        ((*path, ONEOF, i), f"{prefix}.{o.name} (oneof)") for i, o in enumerate(msg.oneof_decl)
    ]
    for i, nested in enumerate(msg.nested_type):
        if not nested.options.map_entry:
            found += _message_elements(nested, (*path, NESTED, i), f"{prefix}.{nested.name}")
    return found


def undocumented(image: descriptor_pb2.FileDescriptorSet) -> list[str]:
    """Every message, field, oneof, enum, enum value, service and RPC of the
    taskplane packages without a leading comment."""
    missing: list[str] = []
    for file in image.file:
        if not file.package.startswith("taskplane."):
            continue
        elements: list[tuple[tuple[int, ...], str]] = []
        for i, msg in enumerate(file.message_type):
            elements += _message_elements(msg, (MESSAGE, i), msg.name)
        for i, enum in enumerate(file.enum_type):
            elements.append(((ENUM, i), enum.name))
            elements += [((ENUM, i, VALUE, j), v.name) for j, v in enumerate(enum.value)]
        for i, service in enumerate(file.service):
            elements.append(((SERVICE, i), service.name))
            elements += [
                ((SERVICE, i, METHOD, j), f"{service.name}.{m.name}")
                for j, m in enumerate(service.method)
            ]
        documented = _comment_paths(file)
        missing += [f"{file.name}: {name}" for path, name in elements if path not in documented]
    return missing


def test_every_element_of_the_contracts_is_documented(
    image: descriptor_pb2.FileDescriptorSet,
) -> None:
    assert undocumented(image) == []


def test_the_walker_notices_a_missing_comment(image: descriptor_pb2.FileDescriptorSet) -> None:
    broken = descriptor_pb2.FileDescriptorSet()
    broken.CopyFrom(image)
    for file in broken.file:
        if file.name == "taskplane/v1/tasks.proto":
            for loc in file.source_code_info.location:
                if tuple(loc.path) == (SERVICE, 0, METHOD, 0):
                    loc.leading_comments = ""
    assert undocumented(broken) == ["taskplane/v1/tasks.proto: TaskService.CreateTask"]


def test_every_event_type_is_in_the_catalog() -> None:
    catalog = (ROOT / "docs" / "events.md").read_text()
    payload = events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"]
    assert len(EVENT_TYPES) == len(payload.fields) >= 15
    for event_type in EVENT_TYPES:
        assert f"### `{event_type}`" in catalog
        assert type_of_field(field_of_type(event_type)) == event_type
    required = {
        "task.created",
        "task.started",
        "task.completed",
        "task.failed",
        "task.cancelled",
        "agent.message",
        "agent.thinking",
        "agent.action",
        "execution.started",
        "execution.completed",
        "error.occurred",
        "workflow.started",
        "workflow.completed",
        "knowledge.indexed",
        "knowledge.retrieved",
    }
    assert required <= set(EVENT_TYPES)


def test_every_rpc_has_a_permission_entry() -> None:
    rpcs = {f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods}
    assert rpcs == set(PERMISSIONS)


def test_every_rpc_is_implemented_by_its_servicer() -> None:
    class Stub:
        settings = Settings.from_env({})

    bindings = {b.full_name: b.servicer for b in service_bindings(Stub(), Stub(), Stub())}  # type: ignore[arg-type]
    for service in SERVICES:
        servicer = bindings[service.full_name]
        for method in service.methods:
            implementation = getattr(type(servicer), method.name)
            base = [c for c in type(servicer).__mro__ if c.__name__.endswith("Servicer")][-1]
            assert implementation is not getattr(base, method.name), f"{service.name}.{method.name}"
