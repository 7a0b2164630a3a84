"""Types shared by the wiring modules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import grpc

ServiceAdder = Callable[[Any, grpc.aio.Server], None]


@dataclasses.dataclass(frozen=True)
class ServiceBinding:
    """One servicer, its full service name and the function that registers it."""

    full_name: str
    servicer: object
    add_to_server: ServiceAdder
