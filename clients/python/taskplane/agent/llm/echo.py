"""An offline model for demos and tests."""

from __future__ import annotations

from collections.abc import Sequence

from taskplane.agent.llm.base import ChatMessage, ChatResult


class EchoModel:
    """An `LLMProvider` that answers "echo: <last user message>" without any
    network. Tokens are whitespace-separated words; `max_tokens` truncates
    the answer (finish reason "length")."""

    def __init__(self, model: str = "echo") -> None:
        self.model = model

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        content = f"echo: {question}"
        finish_reason = "stop"
        words = content.split()
        if max_tokens is not None and len(words) > max_tokens:
            content = " ".join(words[: max(max_tokens, 0)])
            finish_reason = "length"
        prompt_tokens = sum(len(m.content.split()) for m in messages)
        completion_tokens = len(content.split())
        return ChatResult(
            content=content,
            model=model or self.model,
            finish_reason=finish_reason,
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        )
