"""Tracing and metrics settings."""

from __future__ import annotations

import pytest

from server.config import Settings, SettingsError


def test_tracing_and_metrics_are_off_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.tracing == "off"
    assert settings.metrics_listen_address == ""


def test_observability_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "TASKPLANE_TRACING": "otlp",
            "TASKPLANE_OTLP_ENDPOINT": "https://collector.example:4317",
            "TASKPLANE_METRICS_LISTEN_ADDRESS": "[::]:9464",
        }
    )
    assert settings.tracing == "otlp"
    assert settings.otlp_endpoint == "https://collector.example:4317"
    assert settings.metrics_listen_address == "[::]:9464"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKPLANE_TRACING", "jaeger"),
        ("TASKPLANE_OTLP_ENDPOINT", "collector:4317"),
        ("TASKPLANE_METRICS_LISTEN_ADDRESS", "9464"),
        ("TASKPLANE_METRICS_LISTEN_ADDRESS", "127.0.0.1:http"),
        ("TASKPLANE_METRICS_LISTEN_ADDRESS", "127.0.0.1:70000"),
        ("TASKPLANE_METRICS_LISTEN_ADDRESS", ":9464"),
    ],
)
def test_bad_observability_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
