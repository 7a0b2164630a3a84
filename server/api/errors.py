"""The one place that turns errors into gRPC statuses with google.rpc details:
ErrorInfo on every error, BadRequest for INVALID_ARGUMENT, RetryInfo for
RESOURCE_EXHAUSTED and UNAVAILABLE."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2

# googleapis-common-protos ships .pyi files but no py.typed marker.
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.core import errors

DOMAIN = "taskplane.dev"

_CODES: list[tuple[type[errors.DomainError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.StaleLease, grpc.StatusCode.ABORTED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
]


def status_code(error: errors.DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        for known, code in _CODES:
            if cls is known:
                return code
    return grpc.StatusCode.UNKNOWN


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _retry_delay(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def to_status(error: errors.DomainError, metadata: dict[str, str] | None = None) -> grpc.Status:
    """A rich status for a domain error."""
    code = status_code(error)
    details = [
        _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=metadata))
    ]
    if isinstance(error, errors.InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        )
    if isinstance(error, errors.NotFound):
        details.append(
            _pack(
                error_details_pb2.ResourceInfo(
                    resource_type=error.resource, resource_name=error.resource_id
                )
            )
        )
    if isinstance(error, errors.ResourceExhausted | errors.Unavailable):
        details.append(_pack(_retry_delay(error.retry_after_s)))
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=error.message, details=details)
    )
    return status


def internal_status(correlation_id: str) -> grpc.Status:
    """What a client sees of an unexpected failure: nothing but an id to quote."""
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(
            code=code_pb2.INTERNAL,
            message=f"internal error; quote correlation id {correlation_id}",
            details=[
                _pack(
                    error_details_pb2.ErrorInfo(
                        reason="INTERNAL",
                        domain=DOMAIN,
                        metadata={"correlation_id": correlation_id},
                    )
                )
            ],
        )
    )
    return status
