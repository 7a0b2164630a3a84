"""Database access: SQLite (embedded default) or PostgreSQL, with separate
paths for writes and reads.

On SQLite every write transaction takes the database lock up front
(`BEGIN IMMEDIATE`) on one dedicated connection, so writers queue in the
process instead of failing with "database is locked"; readers use a pool of
other connections, which WAL lets run beside the writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from server.config import Settings


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


class Database:
    def __init__(self, settings: Settings) -> None:
        url = settings.effective_database_url
        self.url = url
        self.is_sqlite = is_sqlite(url)
        if self.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.writer = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
            sa.event.listen(self.writer.sync_engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.writer.sync_engine, "begin", _begin_immediate)
            self.reader = create_async_engine(url, pool_size=8, max_overflow=0, pool_timeout=60)
            sa.event.listen(self.reader.sync_engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.reader.sync_engine, "begin", _begin_deferred)
        else:
            self.writer = create_async_engine(
                url, pool_size=settings.database_pool_size, max_overflow=10, pool_pre_ping=True
            )
            self.reader = self.writer

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed when the block exits normally."""
        async with self.writer.begin() as connection:
            yield connection

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (one snapshot for the block)."""
        async with self.reader.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # Let SQLAlchemy's begin events, not the driver, open transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")
