"""Stopping the event hub while it is being woken: the cancellation must not
be lost. (asyncio.wait_for on Python 3.11 returns the result instead of
raising when the cancellation arrives just after the awaited event was set;
the hub's tail then kept polling and `stop()` waited for it forever.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.config import Settings
from server.engine.runtime import Runtime


@pytest.mark.parametrize("turns", range(4))
async def test_a_cancel_that_meets_a_wake_up_still_ends_the_tail(
    tmp_path: Path, turns: int
) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=""))
    await runtime.start()
    try:
        await asyncio.sleep(0.05)  # the tail is waiting for a wake-up
        tail = runtime.hub._task
        assert tail is not None
        loop = asyncio.get_running_loop()

        def cancel_after(iterations: int) -> None:
            if iterations:
                loop.call_soon(cancel_after, iterations - 1)
            else:
                tail.cancel()

        runtime.hub.notify()
        loop.call_soon(cancel_after, turns)
        done, _ = await asyncio.wait({tail}, timeout=3)
        assert done, "the tail swallowed its cancellation"
        assert tail.cancelled()
    finally:
        await runtime.stop()
