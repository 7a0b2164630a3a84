"""Taskplane Python SDK: an async client, resuming subscriptions and the
agent worker runtime. Generated messages and stubs live in `taskplane.v1`."""

from taskplane.channel import TlsConfig
from taskplane.client import Client, Page, connect
from taskplane.errors import TaskFailure, TaskplaneError
from taskplane.retry import RetryPolicy
from taskplane.subscription import Subscription
from taskplane.worker import TaskContext, Worker

__all__ = [
    "Client",
    "Page",
    "RetryPolicy",
    "Subscription",
    "TaskContext",
    "TaskFailure",
    "TaskplaneError",
    "TlsConfig",
    "Worker",
    "connect",
]
