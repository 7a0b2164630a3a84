"""Pins the public surface of the Python SDK: the names it exports and the
signatures of the client, the worker and the task context. A change here is
a change for every user: update `sdk_surface.txt` deliberately
(`python -m tests.unit.test_sdk_surface > tests/unit/sdk_surface.txt`)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import taskplane
from taskplane import errors

SNAPSHOT = Path(__file__).with_name("sdk_surface.txt")


def _members(cls: type) -> list[str]:
    lines = []
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_") and name not in ("__init__", "__aiter__", "__anext__"):
            continue
        if isinstance(member, property):
            lines.append(f"  {name}: property")
        elif callable(member):
            lines.append(f"  {name}{inspect.signature(member)}")
    return lines


def surface() -> str:
    lines = [f"taskplane.__all__ = {sorted(taskplane.__all__)}"]
    for name in sorted(taskplane.__all__):
        obj = getattr(taskplane, name)
        if inspect.isclass(obj):
            lines.append(f"class {name}")
            lines.extend(_members(obj))
        else:
            lines.append(f"def {name}{inspect.signature(obj)}")
    codes = sorted(f"{code.name}: {cls.__name__}" for code, cls in errors.ERRORS_BY_CODE.items())
    lines.append("errors by code:")
    lines.extend(f"  {line}" for line in codes)
    # Default values like functions print their address: not part of the surface.
    return re.sub(r" at 0x[0-9a-f]+", "", "\n".join(lines) + "\n")


def test_public_surface_matches_the_snapshot() -> None:
    assert surface() == SNAPSHOT.read_text()


def test_every_status_code_but_ok_has_an_exception() -> None:
    import grpc

    assert set(errors.ERRORS_BY_CODE) == set(grpc.StatusCode) - {grpc.StatusCode.OK}
    for code, cls in errors.ERRORS_BY_CODE.items():
        assert issubclass(cls, errors.TaskplaneError)
        assert cls.code is code


if __name__ == "__main__":
    print(surface(), end="")
