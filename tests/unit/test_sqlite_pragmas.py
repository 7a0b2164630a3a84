"""Settings of the SQLite writer's connection, and how values are bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from server.store.database import _sqlite_pragmas, _writer_pragmas
from server.store.driver import bind_directly


def test_the_writer_never_waits_never_checkpoints_and_keeps_savepoints_in_memory(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    sa.event.listen(engine, "connect", _writer_pragmas)
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "busy_timeout", "wal_autocheckpoint", "temp_store")
            }
    finally:
        engine.dispose()
    # temp_store 2 is MEMORY: savepoint journals never touch the disk.
    assert pragma == {
        "journal_mode": "wal",
        "busy_timeout": 0,
        "wal_autocheckpoint": 0,
        "temp_store": 2,
    }


def test_none_bytes_and_bool_bind_as_before_without_the_adapter_protocol() -> None:
    bind_directly()
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a, b, c, d)")
    conn.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (None, b"\x00body", True, False))
    row = conn.execute("SELECT a, b, c, d, typeof(a), typeof(b), typeof(c) FROM t").fetchone()
    assert row == (None, b"\x00body", 1, 0, "null", "blob", "integer")
    adapters = sqlite3.adapters
    assert {(type(None), sqlite3.PrepareProtocol), (bytes, sqlite3.PrepareProtocol)} <= set(
        adapters
    )
