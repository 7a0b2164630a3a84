"""The driver connection under a SQLAlchemy connection, for the hot SQLite
statements: the stdlib driver runs a prepared statement in a few
microseconds, SQLAlchemy's execution machinery adds tens around each.

The SQL text is built from table and column names of the schema and `?`
placeholders only; values are always bound."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import cast

import sqlalchemy as sa


def bind_directly() -> None:
    """Makes the driver bind None, bytes and bool without its adapter
    protocol. It binds exact int, float and str directly, but looks every
    other value up as `__adapt__` and `__conform__` first, each a failed
    attribute lookup that builds an AttributeError: about a microsecond per
    NULL column. A registered adapter is found in a dict instead. The values
    bound are the same (bool as 0 or 1, as before)."""
    sqlite3.register_adapter(type(None), _unchanged)
    sqlite3.register_adapter(bytes, bytes)
    sqlite3.register_adapter(bool, int)


def _unchanged(value: None) -> None:
    return value


def sqlite_of(conn: sa.Connection) -> sqlite3.Connection:
    return cast(sqlite3.Connection, conn.connection.driver_connection)


def names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in columns)


def marks(count: int) -> str:
    """`?, ?, ...`: `count` placeholders."""
    return ", ".join("?" * count)


def insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({names(columns)}) VALUES ({marks(len(columns))})"  # noqa: S608 # nosec B608


def select(table: str, columns: Sequence[str], condition: str) -> str:
    return f"SELECT {names(columns)} FROM {table} WHERE {condition}"  # noqa: S608 # nosec B608


def update(table: str, columns: Sequence[str], condition: str) -> str:
    assignments = ", ".join(f'"{name}" = ?' for name in columns)
    return f"UPDATE {table} SET {assignments} WHERE {condition}"  # noqa: S608 # nosec B608
