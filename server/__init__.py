"""Taskplane server: a control plane for AI-agent work over gRPC."""

from importlib import metadata

try:
    __version__ = metadata.version("taskplane-server")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"
