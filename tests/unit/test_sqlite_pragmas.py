"""Settings of the SQLite writer's connection."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from server.store.database import _sqlite_pragmas, _writer_pragmas


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
