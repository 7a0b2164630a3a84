"""A real HTTP server that plays an OpenAI-compatible chat-completions
endpoint from a script, for testing LLM providers without mocks.

Each request is recorded with its headers and body; one to
`POST /v1/chat/completions` gets the next scripted `Reply` (a 500 once the
script runs out), one to another path a 404.
The server runs in a thread on 127.0.0.1, port 0.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

PATH = "/v1/chat/completions"


@dataclasses.dataclass(frozen=True)
class Reply:
    """One scripted response; `delay_s` passes before it is sent."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _json_reply(status: int, payload: Any, *headers: tuple[str, str]) -> Reply:
    return Reply(
        status,
        json.dumps(payload).encode(),
        (("Content-Type", "application/json"), *headers),
    )


def completion(
    content: str = "Hello!",
    *,
    model: str = "fake-model-2024",
    finish_reason: str = "stop",
    usage: dict[str, int] | None = None,
) -> Reply:
    """200 with a chat completion."""
    return _json_reply(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage
            if usage is not None
            else {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        },
    )


def error(status: int, message: str, *headers: tuple[str, str]) -> Reply:
    """`status` with an OpenAI-style error body."""
    return _json_reply(
        status, {"error": {"message": message, "type": "error", "code": None}}, *headers
    )


def rate_limited(retry_after: str) -> Reply:
    """429 with `Retry-After: <retry_after>` (delta-seconds or an HTTP-date)."""
    return error(429, "Rate limit reached, slow down", ("Retry-After", retry_after))


def slow(delay_s: float) -> Reply:
    """A completion sent only after `delay_s` (cut short when the server stops)."""
    return dataclasses.replace(completion(), delay_s=delay_s)


def raw(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    """`body` as is, e.g. malformed JSON."""
    return Reply(status, body, (("Content-Type", content_type),))


class FakeLLMServer:
    """Use as a context manager; `base_url` ends in "/v1"."""

    def __init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queues `replies`, one per coming request."""
        with self._lock:
            self._script.extend(replies)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _reply_to(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if request.path != PATH:
                return error(404, f"no route for {request.path}")
            if self._script:
                return self._script.popleft()
        return error(500, "the fake server has no scripted reply left")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                reply = server._reply_to(request)
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout) and closed the connection
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
