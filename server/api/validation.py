"""Request checks shared by the servicers. Each collects every violation of a
request and raises one InvalidArgument with all of them."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from server.core import protos
from server.core.errors import FieldViolation, InvalidArgument

KIND = re.compile(r"^[A-Za-z0-9._/-]{1,128}$")
ID = re.compile(r"^[a-z]{3}_[0-9a-z]{26}$")
MAX_LABELS = 64
MAX_LABEL_KEY = 128
MAX_LABEL_VALUE = 256
MAX_REQUEST_ID = 128
MAX_TEXT = 1_000_000


class Checker:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def done(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)

    def kind(self, field: str, value: str) -> None:
        if not KIND.match(value):
            self.add(field, "must be 1 to 128 letters, digits, '.', '_', '-' or '/'")

    def resource_id(self, field: str, value: str) -> None:
        if not value:
            self.add(field, "is required")
        elif len(value) > 64 or not value.isascii() or not value.isprintable():
            self.add(field, "is not a valid id")

    def text(self, field: str, value: str, *, max_len: int, required: bool = False) -> None:
        if required and not value.strip():
            self.add(field, "is required")
        elif len(value) > max_len:
            self.add(field, f"must be at most {max_len} characters")

    def request_id(self, field: str, value: str) -> None:
        if len(value) > MAX_REQUEST_ID or (value and not value.isprintable()):
            self.add(field, f"must be at most {MAX_REQUEST_ID} printable characters")

    def labels(self, field: str, labels: dict[str, str]) -> None:
        if len(labels) > MAX_LABELS:
            self.add(field, f"at most {MAX_LABELS} labels")
            return
        for key, value in labels.items():
            if not key or len(key) > MAX_LABEL_KEY or not key.isprintable():
                self.add(f"{field}[{key[:32]}]", "label keys are 1 to 128 printable characters")
            if len(value) > MAX_LABEL_VALUE:
                self.add(f"{field}[{key[:32]}]", "label values are at most 256 characters")

    def duration_us(
        self, field: str, value: duration_pb2.Duration, present: bool, *, max_s: float
    ) -> int:
        if not present:
            return 0
        if value.seconds < 0 or value.nanos < 0:
            self.add(field, "must not be negative")
            return 0
        if value.nanos > 999_999_999:
            self.add(field, "nanos must be below one second")
            return 0
        if value.seconds > max_s:
            self.add(field, f"must be at most {int(max_s)} seconds")
            return 0
        return int(value.ToMicroseconds())

    def future_time(self, field: str, value: timestamp_pb2.Timestamp, now_us: int) -> int | None:
        """A timestamp after `now_us` and within a hundred years, in microseconds."""
        if not 0 <= value.nanos <= 999_999_999:
            self.add(field, "nanos must be between 0 and 999999999")
            return None
        micros = value.seconds * 1_000_000 + value.nanos // 1000
        if micros <= now_us:
            self.add(field, "must be in the future")
            return None
        if micros > now_us + 100 * 365 * 86_400 * 1_000_000:
            self.add(field, "must be within a hundred years")
            return None
        return micros

    def int_range(self, field: str, value: int, low: int, high: int) -> None:
        if not low <= value <= high:
            self.add(field, f"must be between {low} and {high}")

    def page_size(self, field: str, value: int, *, default: int, cap: int) -> int:
        if value < 0:
            self.add(field, "must not be negative")
            return default
        return min(value or default, cap)


def struct_json(check: Checker, field: str, value: struct_pb2.Struct) -> str:
    """The JSON form of a Struct; NaN and infinities have none, so they are
    a violation."""
    if not struct_size_ok(value):
        check.add(field, "is larger than 1 MB")
        return "{}"
    try:
        return protos.struct_json(value)
    except ValueError:
        check.add(field, "numbers must be finite (no NaN or Infinity)")
        return "{}"


def struct_size_ok(value: struct_pb2.Struct) -> bool:
    return value.ByteSize() <= MAX_TEXT


def encode_page_token(workspace_id: str, query_key: str, position: Iterable[Any]) -> str:
    raw = json.dumps({"w": workspace_id, "q": query_key, "p": list(position)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(
    token: str, workspace_id: str, query_key: str, field: str = "page_token"
) -> list[Any] | None:
    """The position in a page token, or None for an empty token. A token of
    another workspace or of other filters is rejected: tokens never widen
    what a caller may see."""
    if not token:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw["w"] != workspace_id or raw["q"] != query_key or not isinstance(raw["p"], list):
            raise ValueError
        return list(raw["p"])
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.one(
            field, "is not a page token of this query; start again without one"
        ) from None


def query_key(*parts: object) -> str:
    """A short digest of the filters a page token is bound to."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
