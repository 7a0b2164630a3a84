import json
import math
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from server.core import protos
from server.core.model import Task, TaskError, TaskState
from taskplane.v1 import tasks_pb2

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_struct_json_writes_what_json_format_writes(value: dict[str, Any]) -> None:
    message = struct_pb2.Struct()
    message.update(value)
    expected = json.dumps(json_format.MessageToDict(message), separators=(",", ":"), sort_keys=True)
    assert protos.struct_json(message) == expected
    assert protos.struct(expected) == message


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_struct_json_refuses_numbers_json_cannot_hold(number: float) -> None:
    message = struct_pb2.Struct()
    message.update({"outer": {"items": [1, number]}})
    with pytest.raises(ValueError, match="not JSON compliant"):
        protos.struct_json(message)


def _task(**changes: object) -> Task:
    fields: dict[str, object] = dict(
        id="tsk_1",
        workspace_id="wsp_1",
        kind="demo",
        input_json='{"n":5.0}',
        labels={"team": "a"},
        priority=3,
        max_attempts=4,
        attempt_budget=4,
        initial_backoff_us=1_500_000,
        max_backoff_us=60_000_000,
        backoff_multiplier=2.0,
        schedule_to_start_us=0,
        run_timeout_us=90_000_001,
        heartbeat_timeout_us=30_000_000,
        state=TaskState.RUNNING,
        attempt=1,
        correlation_id="c1",
        traceparent="",
        request_id=None,
        create_time=1_700_000_000_123_456,
        update_time=1_700_000_001_000_000,
        available_time=1_700_000_000_123_456,
        start_time=1_700_000_001_000_000,
    )
    fields.update(changes)
    return Task(**fields)  # type: ignore[arg-type]


def test_task_to_proto_carries_every_field_with_its_presence() -> None:
    message = protos.task_to_proto(_task())
    assert json_format.MessageToDict(message.input) == {"n": 5.0}
    assert message.create_time.ToMicroseconds() == 1_700_000_000_123_456
    assert message.start_time.ToMicroseconds() == 1_700_000_001_000_000
    assert not message.HasField("end_time")
    assert not message.HasField("result") and not message.HasField("error")
    assert message.retry_policy.initial_backoff.ToMicroseconds() == 1_500_000
    assert message.retry_policy.max_attempts == 4
    assert message.timeouts.run.ToMicroseconds() == 90_000_001
    assert not message.timeouts.HasField("schedule_to_start")
    assert message.state == tasks_pb2.TASK_STATE_RUNNING and message.etag == '"1"'
    assert dict(message.labels) == {"team": "a"}


def test_task_to_proto_keeps_empty_structs_and_errors() -> None:
    error = TaskError(code="x.failed", message="no", retryable=True, details_json='{"k":"v"}')
    message = protos.task_to_proto(
        _task(input_json="{}", result_json="{}", error=error, end_time=1_700_000_002_000_000)
    )
    assert message.HasField("input") and len(message.input.fields) == 0
    assert message.HasField("result")
    assert message.error.code == "x.failed" and message.error.details["k"] == "v"
    assert message.end_time.ToMicroseconds() == 1_700_000_002_000_000
    bare = protos.task_to_proto(_task(input_json="", max_attempts=0, backoff_multiplier=0.0))
    assert not bare.HasField("input")
    assert bare.HasField("retry_policy") and bare.HasField("timeouts")
