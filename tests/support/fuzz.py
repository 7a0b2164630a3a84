"""Hypothesis strategies for arbitrary v1 request messages, built from the
service descriptors, and byte-level mutations of them."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message
from hypothesis import strategies as st

FD = descriptor.FieldDescriptor
ID_LIKE = st.sampled_from(
    [
        "",
        "tsk_00000000000000000000000000",
        "agt_x",
        "lse_1",
        "key_1",
        "../../etc",
        "\x00",
        "a" * 300,
    ]
)
TEXT = st.text(max_size=60) | ID_LIKE | st.just("x" * 5000)
INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)


def _scalar(field: FD) -> st.SearchStrategy[Any]:
    if field.type == FD.TYPE_STRING:
        return TEXT
    if field.type == FD.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return st.floats(width=32) if field.type == FD.TYPE_FLOAT else st.floats()
    if field.type == FD.TYPE_ENUM:
        return st.integers(-3, 12)
    if field.type in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return INT64
    if field.type in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if field.type in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    return INT32


@st.composite
def messages(draw: st.DrawFn, desc: descriptor.Descriptor, depth: int = 0) -> Message:
    """An arbitrary message of type `desc`, a few levels deep."""
    message = message_factory.GetMessageClass(desc)()
    if desc.full_name == "google.protobuf.Struct":
        values = draw(
            st.dictionaries(TEXT, st.none() | TEXT | st.floats() | st.booleans(), max_size=4)
        )
        message.update(values)  # type: ignore[attr-defined]
        return message
    for field in desc.fields:
        if depth > 3 or not draw(st.booleans()):
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields
            entries = draw(st.dictionaries(_scalar(key_field), _scalar(value_field), max_size=4))
            getattr(message, field.name).update(entries)
        elif field.message_type is not None:
            count = draw(st.integers(0, 3)) if field.is_repeated else 1
            for _ in range(count):
                child = draw(messages(field.message_type, depth + 1))
                if field.is_repeated:
                    getattr(message, field.name).add().CopyFrom(child)
                else:
                    getattr(message, field.name).CopyFrom(child)
        elif field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(_scalar(field), max_size=4)))
        else:
            setattr(message, field.name, draw(_scalar(field)))
    return message


@st.composite
def payloads(draw: st.DrawFn, desc: descriptor.Descriptor) -> bytes:
    """Serialized requests: well-formed, mutated, truncated or random bytes."""
    body = draw(messages(desc)).SerializeToString()
    mode = draw(st.sampled_from(["valid", "valid", "flip", "truncate", "random"]))
    if mode == "flip" and body:
        index = draw(st.integers(0, len(body) - 1))
        body = body[:index] + bytes([body[index] ^ draw(st.integers(1, 255))]) + body[index + 1 :]
    elif mode == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif mode == "random":
        body = draw(st.binary(max_size=200))
    return body
