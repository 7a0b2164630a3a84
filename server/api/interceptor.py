"""The call pipeline, in order: correlation id -> log context -> caller
identity -> handler, with domain errors mapped to statuses and one access
log line per call. One wrapper per call keeps the overhead to a minimum."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn, Protocol, TypeAlias, cast

import grpc
import structlog
from google.protobuf.message import DecodeError

from server.api.call import CallInfo, set_current_call
from server.api.errors import internal_status, status_code, to_status
from server.core.errors import DomainError, InvalidArgument
from server.engine.activity import CallActivity
from server.observability.logging import bind_call_fields
from server.observability.tracing import current_traceparent, trace_id_of, valid_traceparent
from server.security.limits import RateLimiter, StreamLimiter

Context = grpc.aio.ServicerContext[Any, Any]
# Not subscriptable at runtime, hence the string.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

log = structlog.get_logger("taskplane.access")
CORRELATION_HEADER = "x-correlation-id"
_VALID_CORRELATION = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")


class Authenticator(Protocol):
    async def authenticate(self, info: CallInfo, metadata: dict[str, str]) -> None:
        """Fills in the caller's workspace and role, or raises a DomainError."""


class CallObserver(Protocol):
    def call_finished(self, method: str, code: grpc.StatusCode, duration_s: float) -> None:
        """Called once per intercepted call, after its access log line."""


def _metadata(context: Context) -> dict[str, str]:
    pairs = context.invocation_metadata() or ()
    return {key: value for key, value in pairs if isinstance(value, str)}


def _correlation_id(metadata: dict[str, str]) -> str:
    given = metadata.get(CORRELATION_HEADER, "")
    return given if _VALID_CORRELATION.match(given) else os.urandom(16).hex()


class CallInterceptor:
    """Wraps the handlers of every non-public method in the call pipeline.
    It is applied to the services' generic handlers (`intercepting`) rather
    than installed as a grpc interceptor, which would cost an extra chain of
    coroutines on every call; tracing's interceptor, when on, still runs
    first, so its span is current in the pipeline."""

    def __init__(
        self,
        authenticator: Authenticator,
        public_prefixes: tuple[str, ...],
        rate_limiter: RateLimiter,
        stream_limiter: StreamLimiter,
        observer: CallObserver | None = None,
        activity: CallActivity | None = None,
        *,
        traced: bool = False,
    ) -> None:
        """`traced`: whether tracing's interceptor runs first (its span is
        then current in the pipeline); else only the caller's trace context
        is carried."""
        self._authenticator = authenticator
        self._traceparent = current_traceparent if traced else valid_traceparent
        self._public_prefixes = public_prefixes
        self._rate_limiter = rate_limiter
        self._stream_limiter = stream_limiter
        self._observer = observer
        self._activity = activity or CallActivity()
        # Wrapped handlers by method, with the handler each one wraps: the
        # same handler comes back for every call of a method.
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def intercepting(self, generic: grpc.GenericRpcHandler) -> grpc.GenericRpcHandler:
        """`generic`, with each handler it returns wrapped in the pipeline."""
        return _Intercepted(generic, self)

    def handler_for(self, method: str, handler: Handler | None) -> Handler | None:
        if handler is None or method.startswith(self._public_prefixes):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        if len(self._wrapped) > 1000:
            self._wrapped.clear()
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: Handler) -> Handler:
        deserializer = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            return _replace(
                handler,
                unary_unary=self._wrap_unary(method, handler.unary_unary),
                request_deserializer=deserializer,
            )
        if handler.unary_stream is not None:
            return _replace(
                handler,
                unary_stream=self._wrap_stream(method, handler.unary_stream),
                request_deserializer=deserializer,
            )
        return handler

    async def _begin(self, method: str, context: Context, *, streaming: bool) -> CallInfo:
        metadata = _metadata(context)
        # The call's own span when tracing, else the caller's trace context.
        info = CallInfo(
            method=method,
            correlation_id=_correlation_id(metadata),
            traceparent=self._traceparent(metadata.get("traceparent", "")),
        )
        set_current_call(info)
        fields = bind_call_fields(
            rpc=method, peer=context.peer(), correlation_id=info.correlation_id
        )
        if info.traceparent:
            fields["trace_id"] = trace_id_of(info.traceparent)
        echo = ((CORRELATION_HEADER, info.correlation_id),)
        if streaming:
            # A stream's subscriber learns it at once, in the response headers.
            await context.send_initial_metadata(echo)
        else:
            # A unary call sends it with its status: sending headers of their
            # own would cost a separate operation on every call.
            context.set_trailing_metadata(echo)
        await self._authenticator.authenticate(info, metadata)
        fields["workspace_id"] = info.workspace_id
        self._rate_limiter.check(info.key_id)
        return info

    @staticmethod
    def _check_decoded(request: Any) -> None:
        if isinstance(request, Undecodable):
            raise InvalidArgument.one("request", f"is not a valid {request.type_name} message")

    async def _fail(
        self, error: BaseException, info: CallInfo | None, context: Context
    ) -> NoReturn:
        """Answers with the error's status; aborts pass through untouched."""
        if _is_abort(error):
            raise error
        correlation_id = info.correlation_id if info else ""
        if isinstance(error, DomainError):
            status = to_status(error)
        else:
            log.error("rpc.unexpected_error", exc_info=error)
            status = internal_status(correlation_id)
        trailing = tuple(status.trailing_metadata)
        if correlation_id:
            trailing += ((CORRELATION_HEADER, correlation_id),)
        await context.abort(status.code, status.details, trailing)

    def _wrap_unary(self, method: str, behavior: Any) -> Any:
        async def wrapper(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            info: CallInfo | None = None
            try:
                info = await self._begin(method, context, streaming=False)
                self._check_decoded(request)
                self._activity.started()
                try:
                    return await behavior(request, context)
                finally:
                    self._activity.finished()
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as error:
                code = _code_of(error, context)
                await self._fail(error, info, context)
            finally:
                self._finish(method, code, started)

        return wrapper

    def _wrap_stream(self, method: str, behavior: Any) -> Any:
        async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            info: CallInfo | None = None
            holds_stream = False
            try:
                info = await self._begin(method, context, streaming=True)
                self._check_decoded(request)
                self._stream_limiter.acquire(info.key_id)
                holds_stream = True
                async for response in behavior(request, context):
                    yield response
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as error:
                code = _code_of(error, context)
                await self._fail(error, info, context)
            finally:
                if holds_stream and info is not None:
                    self._stream_limiter.release(info.key_id)
                self._finish(method, code, started)

        return wrapper

    def _finish(self, method: str, code: grpc.StatusCode, started: float) -> None:
        duration_s = time.perf_counter() - started
        log.info("rpc.access", code=code.name, duration_ms=round(duration_s * 1000, 3))
        if self._observer is not None:
            self._observer.call_finished(method, code, duration_s)


class _Intercepted(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, interceptor: CallInterceptor) -> None:
        self._inner = inner
        self._interceptor = interceptor

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = self._inner.service(handler_call_details)
        return self._interceptor.handler_for(handler_call_details.method, handler)


class Undecodable:
    """Stands in for a request whose bytes are not a valid message, so that
    the call answers INVALID_ARGUMENT (after authentication) instead of
    grpc's UNKNOWN with the parser's exception text."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    owner = getattr(deserializer, "__self__", None)
    type_name = getattr(owner, "DESCRIPTOR", None)
    name = type_name.full_name if type_name is not None else "request"

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            return Undecodable(name)

    return deserialize


def _replace(handler: Handler, **fields: Any) -> Handler:
    # grpc's handlers are namedtuples at runtime; the stubs declare an ABC
    # without _replace.
    replaced: Handler = cast(Any, handler)._replace(**fields)
    return replaced


def _is_abort(error: BaseException) -> bool:
    # context.abort() raises AbortError; let it through untouched.
    return type(error).__name__ in {"AbortError", "UsageError"}


def _code_of(error: BaseException, context: Context) -> grpc.StatusCode:
    if _is_abort(error):
        return context.code() or grpc.StatusCode.UNKNOWN
    return status_code(error) if isinstance(error, DomainError) else grpc.StatusCode.INTERNAL
