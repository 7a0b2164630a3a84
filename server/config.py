"""Settings: every knob of the server in one frozen object, read once from
`TASKPLANE_*` environment variables. `.env.example` documents each of them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

ENV_PREFIX = "TASKPLANE_"
CLIENT_VARIABLES = frozenset({"TASKPLANE_ADDRESS", "TASKPLANE_API_KEY"})
"""Read by the CLI and SDK, not by the server, which ignores them: a shell can
export them and still start a server."""


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

    database_connect_timeout_s: float = 5.0
    """How long opening a PostgreSQL connection may take; calls that needed it
    then fail with UNAVAILABLE."""

    readiness_interval_s: float = 2.0
    """How often the critical dependency check (the database) runs; readiness
    follows its verdict."""

    status_check_timeout_s: float = 2.0
    """How long one dependency check may take before it counts as down (in
    GetStatus and the readiness check)."""

    agent_offline_after_s: float = 60.0
    """An agent not heard from for this long is listed as offline."""

    reaper_interval_s: float = 0.5
    """How often expired leases and overdue queued tasks are looked for."""

    log_level: str = "info"
    """Minimum level of log lines: debug, info, warning or error."""

    log_format: str = "json"
    """`json` (one object per line), `console` (for people at a terminal) or
    `auto` (console when stdout is a terminal, else json)."""

    event_loop: str = "auto"
    """`auto` (uvloop when installed, else asyncio's loop), `uvloop` or `asyncio`."""

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

    health_listen_address: str = ""
    """Extra plaintext listener serving only grpc.health.v1, for Kubernetes
    probes (which speak neither TLS nor auth); empty means none."""

    tls_cert_file: str = ""
    """PEM certificate chain of the server; with `tls_key_file` it turns TLS on."""

    tls_key_file: str = ""
    """PEM private key of the server certificate."""

    tls_client_ca_file: str = ""
    """PEM CA bundle; when set, clients must present a certificate it signed (mTLS)."""

    rate_limit_per_s: float = 5000.0
    """Calls per second allowed to one API key (token bucket); 0 turns the limit off."""

    rate_limit_burst: int = 10000
    """Calls one API key may make at once before the per-second rate applies."""

    max_streams_per_key: int = 1000
    """Subscriptions one API key may hold open at once."""

    guard_policy: str = "flag"
    """Prompt-injection guard on untrusted text (task input, agent reports):
    `off`, `flag` (findings recorded on the task and its events) or `block`
    (INVALID_ARGUMENT naming the field)."""

    reflection: bool = True
    """Serve gRPC server reflection (for grpcurl and other tools)."""

    tracing: str = "off"
    """OpenTelemetry spans of the RPCs: `off`, `otlp` (exported to
    `otlp_endpoint`) or `console` (printed to stdout, for debugging)."""

    otlp_endpoint: str = "http://127.0.0.1:4317"
    """OTLP/gRPC collector receiving the spans; `https://` for TLS."""

    metrics_listen_address: str = ""
    """Host and port of the Prometheus endpoint (plain HTTP, no auth), e.g.
    `127.0.0.1:9464`; port 0 picks a free port; empty means no metrics."""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)

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
            if key in CLIENT_VARIABLES:
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
        if self.log_format not in {"json", "console", "auto"}:
            raise SettingsError("TASKPLANE_LOG_FORMAT must be json, console or auto")
        if self.event_loop not in {"auto", "uvloop", "asyncio"}:
            raise SettingsError("TASKPLANE_EVENT_LOOP must be auto, uvloop or asyncio")
        if self.max_message_bytes < 1024:
            raise SettingsError("TASKPLANE_MAX_MESSAGE_BYTES must be at least 1024")
        if ":" not in self.listen_address:
            raise SettingsError("TASKPLANE_LISTEN_ADDRESS must be host:port")
        if self.guard_policy not in {"off", "flag", "block"}:
            raise SettingsError("TASKPLANE_GUARD_POLICY must be off, flag or block")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise SettingsError("TASKPLANE_TLS_CERT_FILE and TASKPLANE_TLS_KEY_FILE go together")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise SettingsError("TASKPLANE_TLS_CLIENT_CA_FILE needs TASKPLANE_TLS_CERT_FILE")
        for name in (
            "database_connect_timeout_s",
            "readiness_interval_s",
            "status_check_timeout_s",
        ):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be greater than 0")
        if self.rate_limit_per_s < 0 or self.rate_limit_burst < 1:
            raise SettingsError("TASKPLANE_RATE_LIMIT_PER_S must be >= 0 and the burst >= 1")
        if self.tracing not in {"off", "otlp", "console"}:
            raise SettingsError("TASKPLANE_TRACING must be off, otlp or console")
        if not self.otlp_endpoint.startswith(("http://", "https://")):
            raise SettingsError("TASKPLANE_OTLP_ENDPOINT must be an http:// or https:// URL")
        if self.metrics_listen_address and not _is_host_port(self.metrics_listen_address):
            raise SettingsError("TASKPLANE_METRICS_LISTEN_ADDRESS must be host:port")


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and int(port) <= 65535


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
