"""The SQLite writer allocates sequences from a head kept in memory: units
that roll back after appending, in a group or alone, leave no gap."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from server.config import Settings
from server.core.model import CallContext, EventDraft
from server.engine.runtime import Runtime
from server.store.schema import events, log_head
from taskplane.v1 import agents_pb2


class Boom(Exception):
    pass


async def test_rolled_back_appends_leave_no_gap(tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=""))
    await runtime.start()
    ctx = CallContext("wsp_test", "corr", "")
    try:

        def unit(index: int) -> Callable[[sa.Connection], int]:
            def work(conn: sa.Connection) -> int:
                drafts = [
                    EventDraft("agent.thinking", agents_pb2.AgentThinking(content=str(index)))
                ] * (1 + index % 3)
                runtime.event_log.append(conn, ctx, drafts, 1)
                if index % 4 == 1:
                    raise Boom
                return index

            return work

        for _ in range(3):
            outcomes = await asyncio.gather(
                *(runtime.database.write(unit(i)) for i in range(40)), return_exceptions=True
            )
            assert sum(isinstance(outcome, Boom) for outcome in outcomes) == 10
            # A lone unit that fails rolls its whole transaction back.
            outcome = await asyncio.gather(runtime.database.write(unit(1)), return_exceptions=True)
            assert isinstance(outcome[0], Boom)

        def stored(conn: sa.Connection) -> tuple[list[int], int]:
            sequences = [row[0] for row in conn.execute(sa.select(events.c.sequence))]
            head = conn.execute(sa.select(log_head.c.sequence)).scalar_one()
            return sorted(sequences), int(head)

        sequences, head = await runtime.database.read(stored)
        assert sequences == list(range(1, len(sequences) + 1))
        assert head == len(sequences) == 3 * sum(1 + i % 3 for i in range(40) if i % 4 != 1)
    finally:
        await runtime.stop()
