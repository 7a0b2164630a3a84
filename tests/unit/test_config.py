"""Settings from TASKPLANE_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.listen_address == "127.0.0.1:50051"
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")


def test_values_are_parsed_by_type() -> None:
    settings = Settings.from_env(
        {
            "TASKPLANE_DATA_DIR": "/tmp/x",
            "TASKPLANE_MAX_MESSAGE_BYTES": "2048",
            "TASKPLANE_SHUTDOWN_GRACE_S": "2.5",
            "TASKPLANE_REFLECTION": "off",
            "TASKPLANE_TEST_DATABASE_URL": "ignored: belongs to the tests",
            "TASKPLANE_ADDRESS": "ignored: belongs to the CLI",
            "TASKPLANE_API_KEY": "ignored: belongs to the CLI",  # pragma: allowlist secret
        }
    )
    assert settings.data_dir == Path("/tmp/x")
    assert settings.max_message_bytes == 2048
    assert settings.shutdown_grace_s == 2.5
    assert settings.reflection is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKPLANE_NO_SUCH_SETTING", "1"),
        ("TASKPLANE_MAX_MESSAGE_BYTES", "lots"),
        ("TASKPLANE_REFLECTION", "maybe"),
        ("TASKPLANE_LOG_LEVEL", "verbose"),
        ("TASKPLANE_LOG_FORMAT", "xml"),
        ("TASKPLANE_LISTEN_ADDRESS", "nowhere"),
        ("TASKPLANE_MAX_MESSAGE_BYTES", "10"),
        ("TASKPLANE_READINESS_INTERVAL_S", "0"),
        ("TASKPLANE_STATUS_CHECK_TIMEOUT_S", "-1"),
        ("TASKPLANE_DATABASE_CONNECT_TIMEOUT_S", "nan"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
