"""Settings: every knob of the server in one frozen object, read once from
`TASKPLANE_*` environment variables. `.env.example` documents each of them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

ENV_PREFIX = "TASKPLANE_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Server settings. Each attribute reads `TASKPLANE_<NAME IN UPPER CASE>`."""

    listen_address: str = "127.0.0.1:50051"
    """Host and port of the gRPC listener; port 0 picks a free port."""

    data_dir: Path = Path(".taskplane")
    """Directory for the embedded SQLite database and the bootstrap admin key."""

    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite in `data_dir`. PostgreSQL:
    `postgresql+asyncpg://user@host/db`."""

    database_pool_size: int = 20
    """Connections kept open to PostgreSQL (SQLite uses one writer and 8 readers)."""

    agent_offline_after_s: float = 60.0
    """An agent not heard from for this long is listed as offline."""

    reaper_interval_s: float = 0.5
    """How often expired leases and overdue queued tasks are looked for."""

    log_level: str = "info"
    """Minimum level of log lines: debug, info, warning or error."""

    log_format: str = "json"
    """`json` (one object per line) or `console` (for people at a terminal)."""

    max_message_bytes: int = 4 * 1024 * 1024
    """Largest request or response message; larger ones get RESOURCE_EXHAUSTED."""

    max_concurrent_streams: int = 1000
    """HTTP/2 streams one connection may open at once."""

    keepalive_time_s: float = 60.0
    """Interval of server keepalive pings on idle connections."""

    keepalive_timeout_s: float = 20.0
    """How long a keepalive ping may go unanswered before the connection closes."""

    min_client_ping_interval_s: float = 10.0
    """Clients pinging more often than this are sent GOAWAY (keepalive enforcement)."""

    shutdown_grace_s: float = 10.0
    """On SIGTERM: how long in-flight calls may take to finish before they are cancelled."""

    shutdown_delay_s: float = 0.0
    """On SIGTERM: how long readiness reports NOT_SERVING before the listener stops
    taking new calls, so load balancers can notice."""

    reflection: bool = True
    """Serve gRPC server reflection (for grpcurl and other tools)."""

    @property
    def sqlite_path(self) -> Path:
        """File of the embedded database."""
        return self.data_dir / "taskplane.db"

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the setting, or SQLite in the data directory."""
        return self.database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the settings from `TASKPLANE_*` variables; unknown ones are errors."""
        env = os.environ if environ is None else environ
        fields = {field.name: field for field in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for key, raw in env.items():
            if not key.startswith(ENV_PREFIX) or key.startswith("TASKPLANE_TEST_"):
                continue
            name = key.removeprefix(ENV_PREFIX).lower()
            if name not in fields:
                raise SettingsError(f"unknown setting {key}")
            values[name] = _parse(key, raw, fields[name].default)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Rejects values that cannot work, naming the variable."""
        if self.log_level not in {"debug", "info", "warning", "error"}:
            raise SettingsError("TASKPLANE_LOG_LEVEL must be debug, info, warning or error")
        if self.log_format not in {"json", "console"}:
            raise SettingsError("TASKPLANE_LOG_FORMAT must be json or console")
        if self.max_message_bytes < 1024:
            raise SettingsError("TASKPLANE_MAX_MESSAGE_BYTES must be at least 1024")
        if ":" not in self.listen_address:
            raise SettingsError("TASKPLANE_LISTEN_ADDRESS must be host:port")


def _parse(key: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError:
        raise SettingsError(f"{key} has an invalid value") from None
    return raw
