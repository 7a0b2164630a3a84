"""A client for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM,
Ollama, LiteLLM, ...), with timeouts and retries.

Retried: timeouts, connection errors, 408, 409, 429 and 5xx, with
exponential backoff and full jitter, or after the server's `Retry-After`
when it sends one. A `Retry-After` above `max_retry_after_s` ends the call at
once. What cannot be retried here, or is still failing when the retries run
out, is raised as `TaskFailure`:

- 429: llm.rate_limited; timeout, 408: llm.timeout; connection error, 503:
  llm.unavailable; other 5xx: llm.server_error; 409: llm.conflict. All
  retryable.
- A 2xx without a usable completion: llm.bad_response, retryable (by the
  task's retry policy; not retried here).
- 400, 401, 403, 404, 413, 422: llm.bad_request, llm.unauthorized,
  llm.forbidden, llm.not_found, llm.request_too_large, llm.unprocessable;
  other 3xx/4xx: llm.client_error. Not retryable, not retried.

`details` carry "status" (when there was a response), "attempts" and
"retry_after_s" (when the server asked for a delay). The API key is sent only
in the Authorization header: it is never logged, and is masked in provider
error messages before they reach an exception.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from taskplane.agent.llm.base import ChatMessage, ChatResult
from taskplane.errors import TaskFailure

logger = logging.getLogger(__name__)

# Roles the chat-completions API takes without tool-call ids; others ("tool",
# "retrieved") are sent as user messages.
_WIRE_ROLES = frozenset({"system", "developer", "user", "assistant"})
_RETRYABLE_CODES = {408: "llm.timeout", 409: "llm.conflict", 429: "llm.rate_limited"}
_PERMANENT_CODES = {
    400: "llm.bad_request",
    401: "llm.unauthorized",
    403: "llm.forbidden",
    404: "llm.not_found",
    413: "llm.request_too_large",
    422: "llm.unprocessable",
}
_MAX_ERROR_CHARS = 300
_WHITESPACE_RE = re.compile(r"\s+")
_jitter = random.SystemRandom()


class _Retryable(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(
        self, code: str, message: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s


class OpenAICompatibleProvider:
    """An `LLMProvider` that POSTs to `{base_url}/chat/completions`.

    `base_url` includes the API version, e.g. "https://api.openai.com/v1".
    `timeout_s` bounds each attempt as a whole and each of its phases
    (connect, write, read). `max_retries` is the number of retries after the
    first attempt. `sleep` waits between attempts (tests pass a recorder).
    A `client` passed in is used as is and left open by `aclose()`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        model: str,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        max_retry_after_s: float = 60.0,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an http(s) URL")
        if timeout_s <= 0 or max_retries < 0 or backoff_base_s < 0 or max_retry_after_s < 0:
            raise ValueError("timeouts and delays must be positive, max_retries at least 0")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._shown_url = str(url.copy_with(username=None, password=None))
        self._api_key = api_key or None
        self.model = model
        self._timeout_s = timeout_s
        self._timeout = httpx.Timeout(timeout_s)
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_retry_after_s = max_retry_after_s
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=self._timeout)
        self._sleep = sleep

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return (
            f"{type(self).__name__}(base_url={self._shown_url!r}, model={self.model!r}, "
            f"api_key={key})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the HTTP client if this provider created it."""
        if self._owns_client:
            await self._client.aclose()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        requested = model or self.model
        payload: dict[str, Any] = {
            "model": requested,
            "messages": [
                {"role": m.role if m.role in _WIRE_ROLES else "user", "content": m.content}
                for m in messages
            ],
        }
        if temperature is not None:
            payload["temperature"] = temperature
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens

        attempts = self._max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = await self._post(payload)
            except _Retryable as failure:
                delay = failure.retry_after_s
                if delay is not None and delay > self._max_retry_after_s:
                    raise self._exhausted(failure, attempt, "asked to wait too long") from None
                if attempt == attempts:
                    raise self._exhausted(failure, attempt, "retries exhausted") from None
                if delay is None:
                    delay = self._backoff(attempt)
                logger.warning(
                    "LLM call failed (%s), retrying in %.2f s (attempt %d of %d)",
                    failure.code,
                    delay,
                    attempt,
                    attempts,
                )
                await self._sleep(delay)
            else:
                return _parse_completion(response, requested)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2 ** (attempt - 1))]."""
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        return _jitter.uniform(0.0, ceiling)

    async def _post(self, payload: dict[str, Any]) -> httpx.Response:
        """One attempt: the 2xx response, `_Retryable`, or a permanent `TaskFailure`."""
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(
                    self._url, json=payload, headers=headers, timeout=self._timeout
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise _Retryable(
                "llm.timeout", f"no response within {self._timeout_s:g} s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                "llm.unavailable", f"connection failed ({type(exc).__name__})"
            ) from None

        status = response.status_code
        if 200 <= status < 300:
            return response
        message = f"HTTP {status}: {self._error_message(response)}"
        retry_after = _retry_after_s(response.headers.get("retry-after"))
        if status >= 500:
            code = "llm.unavailable" if status == 503 else "llm.server_error"
            raise _Retryable(code, message, status, retry_after)
        if status in _RETRYABLE_CODES:
            raise _Retryable(_RETRYABLE_CODES[status], message, status, retry_after)
        raise TaskFailure(
            f"LLM provider rejected the request: {message}",
            retryable=False,
            code=_PERMANENT_CODES.get(status, "llm.client_error"),
            details={"status": status, "attempts": 1},
        )

    def _exhausted(self, failure: _Retryable, attempts: int, why: str) -> TaskFailure:
        details: dict[str, Any] = {"attempts": attempts}
        if failure.status is not None:
            details["status"] = failure.status
        if failure.retry_after_s is not None:
            details["retry_after_s"] = failure.retry_after_s
        return TaskFailure(
            f"LLM call failed after {attempts} attempt(s), {why}: {failure.message}",
            retryable=True,
            code=failure.code,
            details=details,
        )

    def _error_message(self, response: httpx.Response) -> str:
        """The provider's error message: whitespace collapsed, key masked, truncated."""
        text = response.text
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict):
                error = error.get("message")
            found = error or data.get("message") or data.get("detail")
            if isinstance(found, str):
                text = found
        text = _WHITESPACE_RE.sub(" ", text).strip()
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        if len(text) > _MAX_ERROR_CHARS:
            text = text[: _MAX_ERROR_CHARS - 1] + "\u2026"
        return text or "(no message)"


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date),
    or None when there is none or it cannot be read."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=datetime.UTC)
        return max(0.0, when.timestamp() - time.time())
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _bad_response(why: str) -> TaskFailure:
    return TaskFailure(
        f"LLM provider sent an unusable completion: {why}", retryable=True, code="llm.bad_response"
    )


def _parse_completion(response: httpx.Response, requested_model: str) -> ChatResult:
    try:
        data = response.json()
    except ValueError:
        raise _bad_response("the body is not JSON") from None
    if not isinstance(data, dict):
        raise _bad_response("the body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _bad_response("no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _bad_response("the first choice has no message")
    content = message.get("content")
    if content is None:
        content = ""
    elif not isinstance(content, str):
        raise _bad_response("the message content is not text")
    model = data.get("model")
    finish_reason = choices[0].get("finish_reason")
    usage = data.get("usage")
    return ChatResult(
        content=content,
        model=model if isinstance(model, str) and model else requested_model,
        finish_reason=finish_reason if isinstance(finish_reason, str) else "",
        usage={
            name: count
            for name, count in (usage.items() if isinstance(usage, dict) else ())
            if isinstance(count, int) and not isinstance(count, bool)
        },
    )
