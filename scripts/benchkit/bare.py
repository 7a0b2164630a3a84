"""The baseline: a bare grpcio aio server (one generic handler, no
interceptors, default options) with an empty unary method and a server stream
of one small message per "event".

`python -m benchkit.bare` runs the server and prints `{"port": ..}` once it
listens; it stops on SIGTERM, or by itself after `--max-lifetime` seconds."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from server import event_loop

SERVICE = "bench.Bare"
EMPTY_METHOD = f"/{SERVICE}/Empty"
STREAM_METHOD = f"/{SERVICE}/Stream"
GO_METHOD = f"/{SERVICE}/Go"
#: A stream ends by itself after this long, whatever the client does.
STREAM_LIFETIME_S = 300.0

Context = grpc.aio.ServicerContext[Any, Any]
EmptyMethod = grpc.aio.UnaryUnaryMultiCallable[empty_pb2.Empty, empty_pb2.Empty]


def empty_methods(channels: Sequence[grpc.aio.Channel]) -> list[EmptyMethod]:
    """The client side of the empty unary method, one per channel."""
    return [
        channel.unary_unary(
            EMPTY_METHOD,
            request_serializer=empty_pb2.Empty.SerializeToString,
            response_deserializer=empty_pb2.Empty.FromString,
        )
        for channel in channels
    ]


class _Gate:
    """Streams send their headers at once but hold their messages until the
    next Go call, so that opening 1,000 streams is not slowed down by the
    ones already flowing."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def open(self) -> None:
        self.event.set()
        self.event = asyncio.Event()


_gate = _Gate()


async def _empty(request: empty_pb2.Empty, context: Context) -> empty_pb2.Empty:
    return empty_pb2.Empty()


async def _stream(
    request: empty_pb2.Empty, context: Context
) -> AsyncIterator[timestamp_pb2.Timestamp]:
    await context.send_initial_metadata(())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_LIFETIME_S
    try:
        await asyncio.wait_for(_gate.event.wait(), STREAM_LIFETIME_S)
        while loop.time() < deadline:
            event = timestamp_pb2.Timestamp()
            event.GetCurrentTime()
            yield event
    except asyncio.CancelledError:  # the client went away: nothing to report
        return


async def _go(request: empty_pb2.Empty, context: Context) -> empty_pb2.Empty:
    _gate.open()
    return empty_pb2.Empty()


def _handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Empty": grpc.unary_unary_rpc_method_handler(
                _empty,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            ),
            "Go": grpc.unary_unary_rpc_method_handler(
                _go,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            ),
            "Stream": grpc.unary_stream_rpc_method_handler(
                _stream,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=timestamp_pb2.Timestamp.SerializeToString,
            ),
        },
    )


async def serve(max_lifetime_s: float) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max_lifetime_s)
    await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-lifetime", type=float, default=600.0)
    parser.add_argument(
        "--event-loop",
        choices=["auto", "asyncio"],
        default="auto",
        help="auto: the loop the Taskplane server picks, so that the loop is no difference",
    )
    args = parser.parse_args()
    event_loop.run(serve(args.max_lifetime), args.event_loop)


if __name__ == "__main__":
    main()
