"""Channels that send the API key (and any fixed metadata) on every call."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import grpc


class _Metadata:
    """Adds fixed metadata (e.g. the authorization header) to every call."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)

    def _details(self, details: Any) -> Any:
        extra = tuple(details.metadata or ()) + self._metadata
        return details._replace(metadata=grpc.aio.Metadata(*extra))

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


# grpc.aio files each interceptor under its first matching kind only, so the
# unary and the streaming flavour need separate instances.
class _UnaryMetadata(_Metadata, grpc.aio.UnaryUnaryClientInterceptor):
    pass


class _StreamMetadata(_Metadata, grpc.aio.UnaryStreamClientInterceptor):
    pass


@dataclasses.dataclass(frozen=True)
class TlsConfig:
    """TLS settings of a channel: PEM bytes; None means the system default."""

    root_certificates: bytes | None = None
    client_certificate: bytes | None = None
    client_key: bytes | None = None
    server_name_override: str | None = None


def _auth_interceptors(api_key: str | None) -> list[Any]:
    metadata = [("authorization", f"Bearer {api_key}")] if api_key else []
    return [_UnaryMetadata(metadata), _StreamMetadata(metadata)]


def _tracing_interceptors(tracer_provider: Any) -> list[Any]:
    try:
        from opentelemetry.instrumentation.grpc import aio_client_interceptors
    except ImportError:  # pragma: no cover - the optional `tracing` extra is absent
        return []
    return list(aio_client_interceptors(tracer_provider=tracer_provider))  # type: ignore[no-untyped-call]


def insecure_channel(
    address: str,
    api_key: str | None,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[Any] = (),
) -> grpc.aio.Channel:
    """A plaintext channel whose calls carry `authorization: Bearer <api_key>`
    (nothing when `api_key` is None or empty), after `interceptors`."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=[*interceptors, *_auth_interceptors(api_key)],
        options=list(options),
    )


RECONNECT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
"""A restarted server is found again within seconds (gRPC's default backoff
grows to two minutes, longer than the SDK's retries wait)."""


def open_channel(
    address: str,
    *,
    api_key: str | None,
    tls: bool | TlsConfig = False,
    tracing: bool = True,
    tracer_provider: Any = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """The channel of `taskplane.connect`: plaintext or TLS, authenticated,
    with OpenTelemetry client spans when `tracing` and the extra is installed
    (on `tracer_provider`, else the global one)."""
    spans = _tracing_interceptors(tracer_provider) if tracing else []
    interceptors = [*spans, *_auth_interceptors(api_key)]
    options = [*RECONNECT_OPTIONS, *options]
    if tls is False:
        return grpc.aio.insecure_channel(address, interceptors=interceptors, options=options)
    config = tls if isinstance(tls, TlsConfig) else TlsConfig()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=config.root_certificates,
        private_key=config.client_key,
        certificate_chain=config.client_certificate,
    )
    all_options = list(options)
    if config.server_name_override:
        all_options.append(("grpc.ssl_target_name_override", config.server_name_override))
    return grpc.aio.secure_channel(
        address, credentials, interceptors=interceptors, options=all_options
    )
