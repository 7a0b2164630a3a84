"""Choosing the server's event loop (TASKPLANE_EVENT_LOOP)."""

from __future__ import annotations

import pytest

from server import event_loop
from server.config import Settings, SettingsError


def test_auto_picks_uvloop_where_it_is_installed() -> None:
    assert event_loop.uvloop_available()
    assert event_loop.resolve("auto") == "uvloop"
    assert event_loop.loop_factory("auto") is not None
    assert event_loop.run(_running(), "auto") == "uvloop"


def test_asyncio_keeps_the_standard_loop() -> None:
    assert event_loop.loop_factory("asyncio") is None
    assert event_loop.run(_running(), "asyncio") == "asyncio"


def test_uvloop_without_uvloop_installed_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, "uvloop_available", lambda: False)
    assert event_loop.resolve("auto") == "asyncio"
    with pytest.raises(LookupError, match="uvloop is not installed"):
        event_loop.loop_factory("uvloop")
    with pytest.raises(LookupError, match="uvloop is not installed"):
        event_loop.run(_running(), "uvloop")


def test_an_unknown_loop_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="TASKPLANE_EVENT_LOOP"):
        Settings.from_env({"TASKPLANE_EVENT_LOOP": "trio"})


async def _running() -> str:
    return event_loop.running()
