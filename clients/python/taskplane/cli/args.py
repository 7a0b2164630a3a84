"""Argument types: argparse reports their errors as usage errors (exit 2)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import descriptor


def label(text: str) -> tuple[str, str]:
    """`key=value`."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def _json_object(text: str, source: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{source} must be a JSON object")
    return value


def json_object(text: str) -> dict[str, Any]:
    return _json_object(text, "the input")


def json_file(path: str) -> dict[str, Any]:
    """A JSON object read from a file, or from stdin for `-`."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {error.strerror}") from None
    return _json_object(text, path)


def _int_at_least(text: str, minimum: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "must not be negative")


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def enum_choices(enum: descriptor.EnumDescriptor, prefix: str) -> dict[str, int]:
    """Lower-case names of an enum without its prefix, UNSPECIFIED left out:
    {"queued": TASK_STATE_QUEUED, ...}."""
    return {
        value.name.removeprefix(prefix).lower(): value.number
        for value in enum.values
        if not value.name.endswith("_UNSPECIFIED")
    }


def pairs_to_dict(pairs: Sequence[tuple[str, str]] | None) -> dict[str, str]:
    return dict(pairs or ())
