"""Database access: SQLite (embedded default) or PostgreSQL.

Repositories are plain synchronous SQLAlchemy Core code taking a
`Connection`; a unit of work is one function run in one transaction:

- SQLite: with the stdlib driver. All writes run on the event loop's thread
  (see sqlite_writer: group commit, checkpoints on a thread of their own),
  taking the database lock up front (`BEGIN IMMEDIATE`), so writers queue in
  order; reads run on a small pool of threads, beside the writer thanks to
  WAL.
- PostgreSQL: on the asyncpg engine through `run_sync`, which drives the same
  synchronous code on the event loop. Pooled connections are pinged on
  checkout (one round trip), so those broken by an outage are replaced once
  it is over.

Errors that mean the database cannot be reached right now become
`DatabaseUnavailable` here, the one place that knows the drivers' errors.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.util
from asyncpg.exceptions import InternalClientError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.config import Settings
from server.core.errors import DatabaseUnavailable
from server.store.driver import bind_directly
from server.store.sqlite_writer import SqliteWriter

T = TypeVar("T")
READ_THREADS = 4
#: SQLSTATEs of a server that is unreachable, shutting down, starting up or
#: out of connections: class 08 (connection exception), 57P01-57P03, 53300.
OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


class Database:
    def __init__(self, settings: Settings, running_calls: Callable[[], int] = lambda: 0) -> None:
        """`running_calls`: how many calls are running their handlers, which
        lets SQLite commit the writes of concurrent calls together."""
        url = settings.effective_database_url
        self.url = url
        self.is_sqlite = is_sqlite(url)
        self.async_engine: AsyncEngine | None = None
        if self.is_sqlite:
            bind_directly()
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            sync_url = url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1)
            self._writer = sa.create_engine(
                sync_url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
            )
            sa.event.listen(self._writer, "connect", _sqlite_pragmas)
            sa.event.listen(self._writer, "connect", _writer_pragmas)
            self._reader = sa.create_engine(
                sync_url,
                pool_size=READ_THREADS,
                max_overflow=0,
                connect_args={"check_same_thread": False},
            )
            sa.event.listen(self._reader, "connect", _sqlite_pragmas)
            sa.event.listen(self._reader, "begin", _begin_deferred)
            self._sqlite_writer = SqliteWriter(self._writer, self._reader, running_calls)
            self._read_threads = concurrent.futures.ThreadPoolExecutor(
                READ_THREADS, "sqlite-reader"
            )
        else:
            self.async_engine = create_async_engine(
                url,
                pool_size=settings.database_pool_size,
                max_overflow=10,
                connect_args={"timeout": settings.database_connect_timeout_s},
            )
            sa.event.listen(self.async_engine.sync_engine.pool, "checkout", _ping)

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Runs `work` in a read-write transaction, committed when it returns."""
        try:
            if self.async_engine is not None:
                async with self.async_engine.begin() as conn:
                    return await conn.run_sync(work)
            result: T = await self._sqlite_writer.submit(work)
            return result
        except Exception as error:
            raise_outage(error)
            raise

    def add_write_hooks(
        self,
        before_commit: Callable[[sa.Connection], None],
        after_commit: Callable[[], None],
        after_rollback: Callable[[], None],
    ) -> None:
        """SQLite: `before_commit` runs last in every write transaction,
        `after_commit` once it committed and `after_rollback` after any write
        unit rolled back. PostgreSQL has several writers: nothing to follow."""
        if self.is_sqlite:
            self._sqlite_writer.before_commit.append(before_commit)
            self._sqlite_writer.after_commit.append(after_commit)
            self._sqlite_writer.after_rollback.append(after_rollback)

    async def read(self, work: Callable[[sa.Connection], T]) -> T:
        """Runs `work` in a read-only transaction (one snapshot)."""
        try:
            if self.async_engine is not None:
                async with self.async_engine.connect() as conn:
                    return await conn.run_sync(work)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._read_threads, _in_transaction, self._reader, work
            )
        except Exception as error:
            raise_outage(error)
            raise

    async def read_point(self, work: Callable[[sa.Connection], T]) -> T:
        """`read` for a few rows found by key: on SQLite it runs at once on the
        loop's thread (a hop to a reader thread costs more than the read)."""
        if self.async_engine is not None:
            return await self.read(work)
        try:
            return self._sqlite_writer.read_now(work)
        except Exception as error:
            raise_outage(error)
            raise

    async def dispose(self) -> None:
        if self.async_engine is not None:
            await self.async_engine.dispose()
            return
        self._sqlite_writer.close()
        self._read_threads.shutdown()
        self._writer.dispose()
        self._reader.dispose()


def is_outage(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now (a
    retry later may work), as opposed to a bug or a constraint violation."""
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated or isinstance(
            error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        ):
            return True
        error = error.orig or error
    # The same from the SQLite driver, used directly on the hot paths.
    if isinstance(error, sqlite3.OperationalError | sqlite3.InterfaceError):
        return True
    # A full pool, a refused or timed-out connect (TimeoutError is an OSError),
    # or a connection that broke mid-operation: SQLAlchemy 2.0.49 passes
    # asyncpg's InternalClientError through untranslated (sqlalchemy#13241).
    if isinstance(error, sqlalchemy.exc.TimeoutError | OSError | InternalClientError):
        return True
    # asyncpg errors, raw from connect() or as the driver-level error.
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(OUTAGE_SQLSTATES)


def raise_outage(error: Exception) -> None:
    """Raises DatabaseUnavailable from `error` when it means the database is
    unreachable; the caller re-raises any other error as it is. (A try block
    at each call costs less than a context manager on these hot paths.)"""
    if is_outage(error):
        raise DatabaseUnavailable(error) from error


def _ping(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """PostgreSQL: checks a pooled connection as it is checked out; a broken
    one is replaced (the pool retries on DisconnectionError). SQLAlchemy's own
    pre-ping opens and rolls back a transaction around its query: three round
    trips instead of one."""
    try:
        sqlalchemy.util.await_only(record.driver_connection.fetchrow(";"))
    except Exception as error:
        raise sqlalchemy.exc.DisconnectionError(type(error).__name__) from error


def _in_transaction(engine: sa.Engine, work: Callable[[sa.Connection], T]) -> T:
    with engine.begin() as conn:
        return work(conn)


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # Let SQLAlchemy's begin events, not the driver, open transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _writer_pragmas(dbapi_connection: Any, _record: object) -> None:
    # The writer runs on the event loop: it must neither wait for another
    # process's lock nor checkpoint (see sqlite_writer).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    # Each unit of a group runs in a savepoint, whose journal (the pages it
    # changed, as they were) would otherwise be a temporary file created,
    # written and deleted for every group: in memory it costs a tenth less.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _begin_deferred(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")
