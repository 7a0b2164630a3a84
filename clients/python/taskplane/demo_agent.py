"""A demo agent that serves a few task kinds, offline.

- `demo.echo`: returns its input.
- `demo.ask`: answers `question` with the built-in offline echo model; an
  optional `context` is treated as retrieved (untrusted) text and passes the
  prompt-injection guard before it reaches the model. Reports thinking, the
  model call as an action, and the answer as a message.
- `demo.sleep`: works for `seconds`, reporting progress each second; cancel it
  to see the handler stop.
- `demo.flaky`: fails its first attempt (retryably) and succeeds on the next.

Run it with `taskplane worker demo`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from taskplane.agent.guarded import GuardedProvider, untrusted_message
from taskplane.agent.llm import ChatMessage, EchoModel, LLMProvider
from taskplane.agent.reporting import ActionStatus
from taskplane.client import Client
from taskplane.errors import TaskFailure
from taskplane.guard import GuardPolicy
from taskplane.worker import TaskContext, Worker

KINDS = ("demo.ask", "demo.echo", "demo.flaky", "demo.sleep")

_SYSTEM_PROMPT = "You are a concise assistant. Answer the user's question."


class DemoAgent:
    """The handlers of the demo kinds, around one chat model."""

    def __init__(self, model: LLMProvider | None = None) -> None:
        self.model = GuardedProvider(model or EchoModel(), GuardPolicy.FLAG)

    async def echo(self, ctx: TaskContext) -> Mapping[str, Any]:
        await ctx.message(f"echoing {len(ctx.input)} field(s)")
        return {"echo": ctx.input}

    async def ask(self, ctx: TaskContext) -> Mapping[str, Any]:
        question = str(ctx.input.get("question", "")).strip()
        if not question:
            raise TaskFailure("input.question is required", code="bad_input")
        messages = [ChatMessage("system", _SYSTEM_PROMPT)]
        context = ctx.input.get("context")
        if context:
            messages.append(untrusted_message(str(context), source="input.context"))
        messages.append(ChatMessage("user", question))
        await ctx.thinking(f"asking the model, with {len(messages) - 1} message(s) of context")
        started = time.monotonic()
        screened, found = self.model.screen(messages)
        result = await self.model.inner.complete(screened)
        findings = [{"detector": f.detector, "field": f.field_path} for f in found]
        await ctx.action(
            "llm.complete",
            arguments={"model": result.model, "messages": len(messages)},
            output={"usage": result.usage, "finish_reason": result.finish_reason},
            status=ActionStatus.SUCCEEDED,
            duration_s=time.monotonic() - started,
        )
        await ctx.message(result.content, metadata={"model": result.model})
        return {"answer": result.content, "model": result.model, "guard_findings": findings}

    async def sleep(self, ctx: TaskContext) -> Mapping[str, Any]:
        seconds = int(ctx.input.get("seconds", 3))
        for second in range(1, seconds + 1):
            await asyncio.sleep(1)
            await ctx.message(f"worked {second}/{seconds} s")
        return {"slept_s": seconds}

    async def flaky(self, ctx: TaskContext) -> Mapping[str, Any]:
        if ctx.attempt == 1:
            raise TaskFailure("first attempts always fail here", retryable=True, code="flaky")
        return {"attempt": ctx.attempt}


def demo_worker(client: Client, *, concurrency: int = 4, poll_wait_s: float = 20.0) -> Worker:
    """A worker with the demo handlers registered."""
    agent = DemoAgent()
    worker = Worker(
        client, "demo-agent", concurrency=concurrency, poll_wait_s=poll_wait_s, version="demo"
    )
    worker.register("demo.ask", agent.ask)
    worker.register("demo.echo", agent.echo)
    worker.register("demo.flaky", agent.flaky)
    worker.register("demo.sleep", agent.sleep)
    return worker
