"""OpenAICompatibleProvider against a real local HTTP server, and EchoModel."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from taskplane.agent.llm import (
    ChatMessage,
    ChatResult,
    EchoModel,
    LLMProvider,
    OpenAICompatibleProvider,
)
from taskplane.errors import TaskFailure
from tests.support.fake_llm_server import (
    FakeLLMServer,
    completion,
    error,
    rate_limited,
    raw,
    slow,
)

API_KEY = "sk-test-4f8a2c91d7e3b6a05f1e9c8d"  # pragma: allowlist secret
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello.")]


class SleepRecorder:
    """The provider's `sleep`: records the requested delays, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def provider(
    server: FakeLLMServer, sleeps: SleepRecorder
) -> AsyncIterator[OpenAICompatibleProvider]:
    async with OpenAICompatibleProvider(
        server.base_url, API_KEY, model="default-model", timeout_s=5.0, sleep=sleeps
    ) as llm:
        yield llm


@pytest.fixture
async def retrying_provider(
    server: FakeLLMServer, sleeps: SleepRecorder
) -> AsyncIterator[OpenAICompatibleProvider]:
    """Two retries, backoff 1 s doubling up to 3 s."""
    async with OpenAICompatibleProvider(
        server.base_url,
        API_KEY,
        model="m",
        max_retries=2,
        backoff_base_s=1.0,
        backoff_max_s=3.0,
        sleep=sleeps,
    ) as llm:
        yield llm


async def failure_of(llm: LLMProvider) -> TaskFailure:
    with pytest.raises(TaskFailure) as caught:
        await llm.complete(MESSAGES)
    return caught.value


def assert_key_absent(failure: TaskFailure) -> None:
    for text in (str(failure), repr(failure), failure.message, repr(failure.details)):
        assert API_KEY not in text


async def test_success_sends_the_request_and_parses_the_completion(
    server: FakeLLMServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(
        completion(
            "Hello!",
            model="fake-model-2024",
            usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        )
    )

    result = await provider.complete(MESSAGES, temperature=0.2, max_tokens=64)

    assert result == ChatResult(
        content="Hello!",
        model="fake-model-2024",
        finish_reason="stop",
        usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    )
    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "model": "default-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello."},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    }


async def test_without_key_or_options_sends_neither(server: FakeLLMServer) -> None:
    server.script(completion())
    async with OpenAICompatibleProvider(server.base_url + "/", model="m") as llm:
        await llm.complete(MESSAGES, model="override")

    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert "authorization" not in request.headers
    assert request.json() == {
        "model": "override",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello."},
        ],
    }


async def test_tool_and_retrieved_messages_go_out_as_user_messages(
    server: FakeLLMServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(completion())
    await provider.complete(
        [
            ChatMessage("assistant", "Searching."),
            ChatMessage("tool", "3 results", source="search"),
            ChatMessage("retrieved", "doc text", source="doc-1"),
        ]
    )

    assert server.requests[0].json()["messages"] == [
        {"role": "assistant", "content": "Searching."},
        {"role": "user", "content": "3 results"},
        {"role": "user", "content": "doc text"},
    ]


async def test_missing_optional_fields_have_defaults(
    server: FakeLLMServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(raw(200, b'{"choices": [{"message": {"role": "assistant", "content": null}}]}'))

    result = await provider.complete(MESSAGES)

    assert result == ChatResult(content="", model="default-model", finish_reason="", usage={})


async def test_429_waits_for_retry_after_seconds_then_succeeds(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(rate_limited("7"), completion("after the wait"))

    result = await provider.complete(MESSAGES)

    assert result.content == "after the wait"
    assert sleeps.delays == [7.0]
    assert len(server.requests) == 2


async def test_429_waits_until_a_retry_after_date(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(
        rate_limited(email.utils.formatdate(time.time() + 30, usegmt=True)), completion("ok")
    )

    result = await provider.complete(MESSAGES)

    assert result.content == "ok"
    (delay,) = sleeps.delays
    # The date has one-second resolution and the clock moves on meanwhile.
    assert 20.0 < delay <= 30.0


@pytest.mark.parametrize(
    "retry_after", ["Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 -0000", "-5"]
)
async def test_429_with_a_retry_after_in_the_past_retries_at_once(
    server: FakeLLMServer,
    provider: OpenAICompatibleProvider,
    sleeps: SleepRecorder,
    retry_after: str,
) -> None:
    server.script(rate_limited(retry_after), completion("ok"))

    assert (await provider.complete(MESSAGES)).content == "ok"
    assert sleeps.delays == [0.0]


async def test_429_asking_for_more_than_the_cap_fails_at_once(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(rate_limited("3600"))

    failure = await failure_of(provider)

    assert failure.retryable
    assert failure.code == "llm.rate_limited"
    assert failure.details == {"attempts": 1, "status": 429, "retry_after_s": 3600.0}
    assert "429" in failure.message
    assert "Rate limit reached" in failure.message
    assert sleeps.delays == []
    assert len(server.requests) == 1


async def test_429_until_retries_run_out(
    server: FakeLLMServer, retrying_provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(*[rate_limited("1")] * 3)

    failure = await failure_of(retrying_provider)

    assert failure.retryable
    assert failure.code == "llm.rate_limited"
    assert failure.details == {"attempts": 3, "status": 429, "retry_after_s": 1.0}
    assert sleeps.delays == [1.0, 1.0]
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "llm.server_error"), (502, "llm.server_error"), (503, "llm.unavailable")],
)
async def test_5xx_is_retried_with_jittered_backoff_then_fails_retryable(
    server: FakeLLMServer, sleeps: SleepRecorder, status: int, code: str
) -> None:
    server.script(*[error(status, "upstream overloaded")] * 5)
    async with OpenAICompatibleProvider(
        server.base_url,
        API_KEY,
        model="m",
        max_retries=4,
        backoff_base_s=1.0,
        backoff_max_s=3.0,
        sleep=sleeps,
    ) as llm:
        failure = await failure_of(llm)

    assert failure.retryable
    assert failure.code == code
    assert failure.details == {"attempts": 5, "status": status}
    assert f"HTTP {status}: upstream overloaded" in failure.message
    assert len(server.requests) == 5
    # Full jitter: each delay is drawn from [0, min(3, 1 * 2 ** retry)].
    assert len(sleeps.delays) == 4
    for delay, ceiling in zip(sleeps.delays, [1.0, 2.0, 3.0, 3.0], strict=True):
        assert 0.0 <= delay <= ceiling


async def test_5xx_then_success(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(error(500, "boom"), error(502, "bad gateway"), completion("recovered"))

    assert (await provider.complete(MESSAGES)).content == "recovered"
    assert len(server.requests) == 3
    assert len(sleeps.delays) == 2


async def test_503_retry_after_is_honoured(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(error(503, "maintenance", ("Retry-After", "4")), completion("back"))

    assert (await provider.complete(MESSAGES)).content == "back"
    assert sleeps.delays == [4.0]


@pytest.mark.parametrize("retry_after", ["soon", "nan", "inf", ""])
async def test_unreadable_retry_after_falls_back_to_backoff(
    server: FakeLLMServer,
    retrying_provider: OpenAICompatibleProvider,
    sleeps: SleepRecorder,
    retry_after: str,
) -> None:
    server.script(rate_limited(retry_after), completion("ok"))

    assert (await retrying_provider.complete(MESSAGES)).content == "ok"
    (delay,) = sleeps.delays
    assert 0.0 <= delay <= 1.0


async def test_slow_server_times_out_and_fails_retryable(
    server: FakeLLMServer, sleeps: SleepRecorder
) -> None:
    server.script(slow(2.0), slow(2.0))
    async with OpenAICompatibleProvider(
        server.base_url, API_KEY, model="m", timeout_s=0.2, max_retries=1, sleep=sleeps
    ) as llm:
        failure = await failure_of(llm)

    assert failure.retryable
    assert failure.code == "llm.timeout"
    assert failure.details == {"attempts": 2}
    assert len(server.requests) == 2
    assert len(sleeps.delays) == 1


async def test_connection_refused_fails_unavailable(sleeps: SleepRecorder) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with OpenAICompatibleProvider(
        f"http://127.0.0.1:{port}/v1", API_KEY, model="m", max_retries=2, sleep=sleeps
    ) as llm:
        failure = await failure_of(llm)

    assert failure.retryable
    assert failure.code == "llm.unavailable"
    assert failure.details == {"attempts": 3}
    assert "ConnectError" in failure.message
    assert len(sleeps.delays) == 2


async def test_401_is_not_retried_and_hides_the_key(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, sleeps: SleepRecorder
) -> None:
    server.script(error(401, f"Incorrect API key provided: {API_KEY}."))

    failure = await failure_of(provider)

    assert not failure.retryable
    assert failure.code == "llm.unauthorized"
    assert failure.details == {"status": 401, "attempts": 1}
    assert "HTTP 401: Incorrect API key provided: [redacted]." in failure.message
    assert_key_absent(failure)
    assert API_KEY not in repr(provider)
    assert API_KEY not in str(provider)
    assert len(server.requests) == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "llm.bad_request"),
        (403, "llm.forbidden"),
        (404, "llm.not_found"),
        (413, "llm.request_too_large"),
        (422, "llm.unprocessable"),
        (418, "llm.client_error"),
    ],
)
async def test_other_4xx_are_permanent(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, status: int, code: str
) -> None:
    server.script(error(status, "nope"))

    failure = await failure_of(provider)

    assert not failure.retryable
    assert failure.code == code
    assert f"HTTP {status}: nope" in failure.message
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": "plain string error"}', "plain string error"),
        (b'{"detail": [1, 2]}', '{"detail": [1, 2]}'),
        (b'{"message": "top-level message"}', "top-level message"),
        (b"<html>\n  Bad   Request\n</html>", "<html> Bad Request </html>"),
        (b"", "(no message)"),
    ],
)
async def test_error_messages_in_other_shapes(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, body: bytes, expected: str
) -> None:
    server.script(raw(400, body))

    failure = await failure_of(provider)

    assert failure.message.endswith(f"HTTP 400: {expected}")


async def test_long_error_messages_are_truncated(
    server: FakeLLMServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(error(400, "x" * 5000))

    failure = await failure_of(provider)

    assert "x" * 299 + "\u2026" in failure.message
    assert "x" * 300 not in failure.message


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'{"choices": []}',
        b'{"object": "chat.completion"}',
        b'{"choices": [{"finish_reason": "stop"}]}',
        b'{"choices": [{"message": {"content": ["parts"]}}]}',
    ],
)
async def test_unusable_completion_is_a_retryable_bad_response(
    server: FakeLLMServer, provider: OpenAICompatibleProvider, body: bytes
) -> None:
    server.script(raw(200, body))

    failure = await failure_of(provider)

    assert failure.retryable
    assert failure.code == "llm.bad_response"
    assert len(server.requests) == 1


async def test_a_client_passed_in_is_used_and_left_open(server: FakeLLMServer) -> None:
    server.script(completion("via shared client"))
    async with httpx.AsyncClient() as client:
        async with OpenAICompatibleProvider(server.base_url, model="m", client=client) as llm:
            result = await llm.complete(MESSAGES)
        assert not client.is_closed

    assert result.content == "via shared client"


async def test_an_owned_client_is_closed(server: FakeLLMServer) -> None:
    llm = OpenAICompatibleProvider(server.base_url, model="m")
    await llm.aclose()

    with pytest.raises(RuntimeError, match="closed"):
        await llm.complete(MESSAGES)


def test_repr_shows_neither_key_nor_url_credentials() -> None:
    llm = OpenAICompatibleProvider("https://user:pw@llm.example/v1", API_KEY, model="m")

    assert repr(llm) == (
        "OpenAICompatibleProvider(base_url='https://llm.example/v1', model='m', api_key=set)"
    )


@pytest.mark.parametrize(
    ("url", "timeout_s", "max_retries"),
    [
        ("ftp://llm.example/v1", 1.0, 0),
        ("llm.example/v1", 1.0, 0),
        ("http://llm.example/v1", 0.0, 0),
        ("http://llm.example/v1", 1.0, -1),
    ],
)
def test_invalid_settings_are_refused(url: str, timeout_s: float, max_retries: int) -> None:
    with pytest.raises(ValueError, match=r"base_url|timeouts"):
        OpenAICompatibleProvider(url, model="m", timeout_s=timeout_s, max_retries=max_retries)


async def test_echo_model_answers_deterministically() -> None:
    echo = EchoModel()
    messages = [
        ChatMessage("system", "You echo."),
        ChatMessage("user", "first question"),
        ChatMessage("assistant", "echo: first question"),
        ChatMessage("user", "what is  the plan"),
    ]

    first = await echo.complete(messages)
    second = await echo.complete(messages)

    assert first == second
    assert first == ChatResult(
        content="echo: what is  the plan",
        model="echo",
        finish_reason="stop",
        usage={"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    )
    assert isinstance(echo, LLMProvider)


async def test_echo_model_truncates_to_max_tokens_and_takes_a_model() -> None:
    result = await EchoModel().complete(
        [ChatMessage("user", "one two three four")], model="echo-2", max_tokens=3
    )

    assert result.content == "echo: one two"
    assert result.finish_reason == "length"
    assert result.model == "echo-2"
    assert result.usage["completion_tokens"] == 3


async def test_echo_model_without_a_user_message() -> None:
    result = await EchoModel().complete([ChatMessage("system", "Be brief.")])

    assert result.content == "echo: "
    assert result.usage == {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
