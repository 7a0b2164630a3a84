"""Per-call context shared by the interceptor and the servicers."""

from __future__ import annotations

import contextvars
import dataclasses

from server.core.model import CallContext


@dataclasses.dataclass
class CallInfo:
    method: str
    correlation_id: str
    traceparent: str = ""
    workspace_id: str = ""
    role: int = 0
    key_id: str = ""

    def context(self) -> CallContext:
        return CallContext(self.workspace_id, self.correlation_id, self.traceparent)


_current: contextvars.ContextVar[CallInfo] = contextvars.ContextVar("taskplane_call")


def current_call() -> CallInfo:
    return _current.get()


def set_current_call(info: CallInfo) -> contextvars.Token[CallInfo]:
    return _current.set(info)
