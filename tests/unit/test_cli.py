"""The command line: settings errors, migrations and logging setup."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.__main__ import main
from server.observability.logging import configure_logging
from tests.conftest import server_settings
from tests.support.servers import running_server


def test_migrate_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TASKPLANE_LOG_LEVEL", "warning")
    assert main(["migrate"]) == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'taskplane.db'}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"tasks", "events", "agents", "workspaces", "api_keys", "alembic_version"} <= tables


def test_bad_setting_exits_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKPLANE_LOG_LEVEL", "loud")
    assert main([]) == 2
    assert "TASKPLANE_LOG_LEVEL" in capsys.readouterr().err


def test_logs_are_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    try:
        logging.getLogger("some.library").info("hello %s", "world")
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["event"] == "hello world" and line["level"] == "info"
    finally:
        logging.getLogger().handlers.clear()


def test_secrets_are_redacted_from_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "key_01m8ah8nxsbtd8hvxsvz0yyq29." + "A" * 43  # pragma: allowlist secret
    configure_logging("info", "json")
    try:
        logging.getLogger("some.library").warning("header was %s", f"Bearer {secret}")
        logging.getLogger("other").warning("raw %s", secret)
        out = capsys.readouterr().out
        assert secret not in out and "A" * 43 not in out
        assert out.count("[redacted]") == 2
    finally:
        logging.getLogger().handlers.clear()


async def test_create_key_prints_a_working_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKPLANE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TASKPLANE_LOG_LEVEL", "warning")
    assert await asyncio.to_thread(main, ["create-key"]) == 1
    assert "start the server once" in capsys.readouterr().err
    async with running_server(server_settings(tmp_path)):
        pass
    args = ["create-key", "--role", "viewer", "--name", "dashboard"]
    assert await asyncio.to_thread(main, args) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("key_")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'taskplane.db'}")
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("select role, display_name, secret_hash from api_keys where id = :id"),
            {"id": secret.split(".")[0]},
        ).one()
    engine.dispose()
    assert row[0] == 3 and row[1] == "dashboard"
    assert secret not in row[2]
