"""Exceptions of the SDK.

Every failed call raises one `TaskplaneError` subclass per gRPC status code
(`NotFound`, `InvalidArgument`, ...), carrying the message, the correlation
id of the call and the decoded `google.rpc` details (`BadRequest`,
`ErrorInfo`, `RetryInfo`, ...).

`TaskFailure` is the other direction: a task handler raises it to fail its
task with a code and a retryable flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import grpc
from google.protobuf import message as pb_message
from google.rpc import error_details_pb2, status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_CORRELATION_KEY = "x-correlation-id"

_DETAIL_TYPES: tuple[type[pb_message.Message], ...] = (
    error_details_pb2.BadRequest,
    error_details_pb2.ErrorInfo,
    error_details_pb2.RetryInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.ResourceInfo,
    error_details_pb2.RequestInfo,
    error_details_pb2.DebugInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
)

D = TypeVar("D", bound=pb_message.Message)


class TaskplaneError(Exception):
    """A call to Taskplane failed with `code`."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        details: tuple[pb_message.Message, ...] = (),
        correlation_id: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.correlation_id = correlation_id
        self.method = method

    def detail(self, kind: type[D]) -> D | None:
        """The first detail of type `kind` (e.g. `error_details_pb2.BadRequest`)."""
        for item in self.details:
            if isinstance(item, kind):
                return item
        return None

    @property
    def reason(self) -> str | None:
        """`ErrorInfo.reason`, a stable machine-readable cause, when present."""
        info = self.detail(error_details_pb2.ErrorInfo)
        return info.reason if info is not None else None

    @property
    def field_violations(self) -> dict[str, str]:
        """`BadRequest` field violations as {field: description}."""
        bad = self.detail(error_details_pb2.BadRequest)
        if bad is None:
            return {}
        return {v.field: v.description for v in bad.field_violations}

    @property
    def retry_delay(self) -> float | None:
        """`RetryInfo.retry_delay` in seconds, when the server suggested one."""
        info = self.detail(error_details_pb2.RetryInfo)
        if info is None or not info.HasField("retry_delay"):
            return None
        return info.retry_delay.ToTimedelta().total_seconds()

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.correlation_id:
            text += f" (correlation id {self.correlation_id})"
        return text


class Cancelled(TaskplaneError):
    code = grpc.StatusCode.CANCELLED


class Unknown(TaskplaneError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(TaskplaneError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(TaskplaneError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(TaskplaneError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(TaskplaneError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(TaskplaneError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(TaskplaneError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(TaskplaneError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(TaskplaneError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(TaskplaneError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(TaskplaneError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(TaskplaneError):
    code = grpc.StatusCode.INTERNAL


class Unavailable(TaskplaneError):
    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(TaskplaneError):
    code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(TaskplaneError):
    code = grpc.StatusCode.UNAUTHENTICATED


ERRORS_BY_CODE: Mapping[grpc.StatusCode, type[TaskplaneError]] = {
    cls.code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def _metadata_value(metadata: Any, key: str) -> Any:
    for item in metadata or ():
        k, v = item
        if k == key:
            return v
    return None


def _decode_details(trailing: Any) -> tuple[pb_message.Message, ...]:
    raw = _metadata_value(trailing, _STATUS_DETAILS_KEY)
    if not raw:
        return ()
    status = status_pb2.Status.FromString(raw)
    decoded: list[pb_message.Message] = []
    for any_detail in status.details:
        for kind in _DETAIL_TYPES:
            item = kind()
            if any_detail.Unpack(item):
                decoded.append(item)
                break
    return tuple(decoded)


def from_rpc_error(error: grpc.aio.AioRpcError, method: str | None = None) -> TaskplaneError:
    """The SDK exception for a failed call, with its decoded details."""
    cls = ERRORS_BY_CODE.get(error.code(), Unknown)
    trailing = error.trailing_metadata()
    correlation = _metadata_value(trailing, _CORRELATION_KEY) or _metadata_value(
        error.initial_metadata(), _CORRELATION_KEY
    )
    return cls(
        error.details() or "",
        details=_decode_details(trailing),
        correlation_id=correlation,
        method=method,
    )


class TaskFailure(Exception):
    """Raised by a task handler to fail its task.

    `retryable=True` lets the server retry the task with its backoff (until
    its attempts run out); `retryable=False` fails it for good. `code` is a
    short machine-readable cause, e.g. `llm.rate_limited`.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        code: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.details = dict(details or {})
