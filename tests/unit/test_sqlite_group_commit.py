"""The SQLite writer's group commit: under concurrent load, units submitted
over a few loop iterations share one commit; a lone caller's unit commits at
the next iteration without waiting for company."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.store import sqlite_writer
from server.store.sqlite_writer import GROUP_ROUNDS, SqliteWriter


class Load:
    running = 1


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[SqliteWriter, Load, list[int]]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    load = Load()
    sizes: list[int] = []
    writer = SqliteWriter(engine, engine, lambda: load.running)

    def count(conn: sa.Connection) -> None:
        sizes.append(int(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()))

    writer.before_commit.append(count)
    yield writer, load, sizes
    writer.close()
    engine.dispose()


def insert(n: int) -> Callable[[sa.Connection], int]:
    def unit(conn: sa.Connection) -> int:
        conn.exec_driver_sql(f"INSERT INTO t VALUES ({n})")
        return n

    return unit


async def iterations_until(future: asyncio.Future[int]) -> int:
    """Loop iterations that pass before `future` is done."""
    count = 0
    while not future.done():
        count += 1
        await asyncio.sleep(0)
    return count


async def test_a_lone_caller_commits_at_the_next_iteration(
    writer: tuple[SqliteWriter, Load, list[int]],
) -> None:
    sqlite, _load, sizes = writer
    for n in range(5):
        future = sqlite.submit(insert(n))
        assert await iterations_until(future) <= 2
        assert await future == n
    # Every unit had a commit of its own (the table grew by one each time).
    assert sizes == [1, 2, 3, 4, 5]


async def test_concurrent_calls_share_a_commit(
    writer: tuple[SqliteWriter, Load, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the rounds count here: a busy machine must not end the wait early.
    monkeypatch.setattr(sqlite_writer, "GROUP_WAIT_S", 60.0)
    sqlite, load, sizes = writer
    load.running = 8  # other calls are running their handlers
    futures = []
    for n in range(8):
        futures.append(sqlite.submit(insert(n)))
        await asyncio.sleep(0)  # the next call arrives an iteration later
    assert await asyncio.gather(*futures) == list(range(8))
    # The units gathered over eight iterations went out in one commit.
    assert sizes == [8]


async def test_gathering_ends_after_its_rounds(
    writer: tuple[SqliteWriter, Load, list[int]],
) -> None:
    sqlite, load, sizes = writer
    load.running = 8
    future = sqlite.submit(insert(1))
    # Nobody else submits: the group still commits, within its rounds.
    assert await iterations_until(future) <= GROUP_ROUNDS + 2
    assert sizes == [1]
