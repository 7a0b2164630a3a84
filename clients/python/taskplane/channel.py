"""Channels that send the API key (and any fixed metadata) on every call."""

from __future__ import annotations

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


def insecure_channel(
    address: str, api_key: str | None, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """A plaintext channel whose calls carry `authorization: Bearer <api_key>`
    (nothing when `api_key` is None or empty)."""
    metadata = [("authorization", f"Bearer {api_key}")] if api_key else []
    return grpc.aio.insecure_channel(
        address,
        interceptors=[_UnaryMetadata(metadata), _StreamMetadata(metadata)],
        options=list(options),
    )
