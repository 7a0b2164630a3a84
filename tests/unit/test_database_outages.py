"""Which database errors mean "unavailable, retry" rather than a bug."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy.exc

from server.core.errors import DatabaseUnavailable
from server.store.database import is_outage, raise_outage


def _wrapped(cls: type[sqlalchemy.exc.DBAPIError], orig: Exception) -> Exception:
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 15"),
        _wrapped(sqlalchemy.exc.InterfaceError, Exception("connection is closed")),
        _wrapped(sqlalchemy.exc.OperationalError, Exception("database is locked")),
        _wrapped(sqlalchemy.exc.DBAPIError, asyncpg.exceptions.AdminShutdownError("shutdown")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_unreachable_database_errors_are_outages(error: Exception) -> None:
    assert is_outage(error)
    with pytest.raises(DatabaseUnavailable) as caught:
        raise_outage(error)
    assert caught.value.__cause__ is error
    assert caught.value.reason == "DATABASE_UNAVAILABLE"
    assert caught.value.cause == type(error).__name__


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        _wrapped(sqlalchemy.exc.IntegrityError, asyncpg.exceptions.UniqueViolationError("dup")),
        _wrapped(sqlalchemy.exc.ProgrammingError, Exception("syntax error")),
        asyncpg.exceptions.InvalidPasswordError("password authentication failed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_other_errors_pass_through(error: Exception) -> None:
    assert not is_outage(error)
    raise_outage(error)  # returns: the caller re-raises the error as it is
