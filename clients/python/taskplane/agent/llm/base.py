"""The chat-model interface shared by providers and the agents that call them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@dataclasses.dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation.

    `role` is "system", "user" or "assistant", or one of the roles for
    untrusted content: "tool" (tool output) and "retrieved" (retrieved text).
    """

    role: str
    content: str
    source: str = ""
    """Where untrusted content came from (a tool name, a document id). Named in
    guard findings; never sent to the model."""


@dataclasses.dataclass(frozen=True, slots=True)
class ChatResult:
    """A model's answer."""

    content: str
    model: str
    """The model that answered, as the provider reports it."""
    finish_reason: str
    """"stop", "length", ... as the provider reports it; "" when it does not."""
    usage: dict[str, int] = dataclasses.field(default_factory=dict)
    """Token counts: "prompt_tokens", "completion_tokens", "total_tokens"."""


@runtime_checkable
class LLMProvider(Protocol):
    """A chat model. Failures are raised as `taskplane.errors.TaskFailure`."""

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """The model's answer to `messages`; `model` overrides the provider's default."""
        ...
