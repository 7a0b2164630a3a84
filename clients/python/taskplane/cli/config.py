"""Where the server is and which API key to send: flags, then environment
variables, then the admin key file the server writes on first start."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from taskplane.channel import TlsConfig

DEFAULT_ADDRESS = "127.0.0.1:50051"
ADDRESS_ENV = "TASKPLANE_ADDRESS"
API_KEY_ENV = "TASKPLANE_API_KEY"  # pragma: allowlist secret
DATA_DIR_ENV = "TASKPLANE_DATA_DIR"
DEFAULT_DATA_DIR = ".taskplane"
ADMIN_KEY_FILE = "admin.key"


class ConfigError(Exception):
    """The CLI cannot tell where or how to connect."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A resolved connection: address, key and TLS settings."""

    address: str
    api_key: str = dataclasses.field(repr=False)
    tls: bool | TlsConfig = False


def address(flag: str | None, environ: Mapping[str, str]) -> str:
    return flag or environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS


def admin_key_path(environ: Mapping[str, str]) -> Path:
    """The admin key file of a server started with the same environment
    in the current directory."""
    return Path(environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / ADMIN_KEY_FILE


def api_key(flag: str | None, environ: Mapping[str, str]) -> str:
    """--api-key, else $TASKPLANE_API_KEY, else the local admin key file."""
    if flag:
        return flag
    if environ.get(API_KEY_ENV):
        return environ[API_KEY_ENV]
    path = admin_key_path(environ)
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"no API key: pass --api-key KEY or set {API_KEY_ENV} "
            f"(no admin key file at {path}; set {DATA_DIR_ENV} to the server's data directory "
            "to use its admin key)"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read the admin key file {path}: {error.strerror}") from None
    if not key:
        raise ConfigError(f"the admin key file {path} is empty; pass --api-key KEY")
    return key


def tls(enabled: bool, ca_file: str | None) -> bool | TlsConfig:
    """TLS with the system roots (--tls) or with the roots of --ca-file."""
    if ca_file:
        try:
            roots = Path(ca_file).read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read the CA file {ca_file}: {error.strerror}") from None
        return TlsConfig(root_certificates=roots)
    return enabled


def resolve(
    *,
    address_flag: str | None,
    api_key_flag: str | None,
    tls_flag: bool,
    ca_file: str | None,
    environ: Mapping[str, str],
) -> Target:
    return Target(
        address=address(address_flag, environ),
        api_key=api_key(api_key_flag, environ),
        tls=tls(tls_flag, ca_file),
    )
