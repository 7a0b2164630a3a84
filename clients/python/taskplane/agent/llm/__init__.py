"""Chat models for agents: the `LLMProvider` interface, a client for any
OpenAI-compatible chat-completions endpoint, and an offline `EchoModel`."""

from taskplane.agent.llm.base import ChatMessage, ChatResult, LLMProvider
from taskplane.agent.llm.echo import EchoModel
from taskplane.agent.llm.openai_compatible import OpenAICompatibleProvider

__all__ = [
    "ChatMessage",
    "ChatResult",
    "EchoModel",
    "LLMProvider",
    "OpenAICompatibleProvider",
]
