"""Domain errors. Each maps to one canonical gRPC status code in
server.api.errors; nothing else decides status codes.

    DomainError
    ├── InvalidArgument      INVALID_ARGUMENT, with field violations
    ├── NotFound             NOT_FOUND (also for other workspaces' resources)
    ├── AlreadyExists        ALREADY_EXISTS
    ├── FailedPrecondition   FAILED_PRECONDITION: don't retry as is
    ├── StaleLease           ABORTED: the lease expired or was superseded
    ├── PermissionDenied     PERMISSION_DENIED
    ├── Unauthenticated      UNAUTHENTICATED
    ├── ResourceExhausted    RESOURCE_EXHAUSTED, with a retry delay
    └── Unavailable          UNAVAILABLE, with a retry delay
        └── DatabaseUnavailable  the database cannot be reached right now
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error a client can cause or must handle."""

    reason = "ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgument(DomainError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation]) -> None:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid request: {summary}")
        self.violations = violations

    @classmethod
    def one(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(DomainError):
    reason = "NOT_FOUND"

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource} {resource_id!r} not found")
        self.resource = resource
        self.resource_id = resource_id


class AlreadyExists(DomainError):
    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    reason = "FAILED_PRECONDITION"


class StaleLease(DomainError):
    reason = "LEASE_STALE"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"lease on task {task_id!r} expired or was superseded; stop working on it")


class PermissionDenied(DomainError):
    reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class ResourceExhausted(DomainError):
    reason = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after_s: float, *, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class Unavailable(DomainError):
    reason = "UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DatabaseUnavailable(Unavailable):
    reason = "DATABASE_UNAVAILABLE"

    def __init__(self, cause: BaseException) -> None:
        super().__init__("the database is unavailable; retry shortly")
        #: Class name of the driver's error, for logs and status checks.
        self.cause = type(cause).__name__
