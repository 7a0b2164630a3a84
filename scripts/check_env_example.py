"""Checks that `.env.example` lists every server setting, with its default.

Exits 1 naming the settings missing from `.env.example`, the variables in it
that are not settings, and the ones whose value differs from the default.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sys

from server.config import ENV_PREFIX, Settings

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / ".env.example"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected() -> dict[str, str]:
    """Variable name -> default value, as `.env.example` should write them."""
    return {
        ENV_PREFIX + field.name.upper(): _render(field.default)
        for field in dataclasses.fields(Settings)
    }


def documented(text: str) -> dict[str, str]:
    """Variable name -> value of each uncommented assignment."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def problems(want: dict[str, str], have: dict[str, str]) -> list[str]:
    """One line per difference between the settings and `.env.example`."""
    lines = [f"missing from .env.example: {name}" for name in sorted(want.keys() - have.keys())]
    lines += [f"not a setting: {name}" for name in sorted(have.keys() - want.keys())]
    lines += [
        f"{name}: .env.example has {have[name]!r}, the default is {want[name]!r}"
        for name in sorted(want.keys() & have.keys())
        if have[name] != want[name]
    ]
    return lines


def main() -> int:
    found = problems(expected(), documented(EXAMPLE.read_text(encoding="utf-8")))
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
