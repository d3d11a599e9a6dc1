"""A WebSocket message is parsed by pydantic's JSON parser in one pass, and a message that
pass refuses is parsed again to say what is wrong. Both must take exactly what the detailed
parse (`json.loads`, then the models) takes, and read it the same: odd JSON included."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.wire import ClientMessageAdapter
from edge.connection import _BadMessage, _parse

SUBMIT = (
    '{"type":"submit","request":{"model":"m","input":{"messages":'
    '[{"role":"user","content":"hi"}]}%s},"ref":"r"}'
)
DEEP = "[" * 1100 + "]" * 1100
MESSAGES = [
    SUBMIT % "",
    SUBMIT % ',"params":{"temperature":NaN}',
    SUBMIT % ',"params":{"x":Infinity}',
    SUBMIT % ',"params":{"x":1e400}',
    SUBMIT % ',"params":{"x":123456789012345678901234567890}',
    SUBMIT % ',"params":{"x":-0.0,"y":0.1,"z":1.7976931348623157e308}',
    SUBMIT % ',"params":{"x":"\\ud800"}',
    SUBMIT % ',"params":{"\\udfff":1}',
    SUBMIT % ',"params":{"x":"é\\u00e9😀名前\\u0000"}',
    SUBMIT % ',"params":{"x":1,"x":2}',
    SUBMIT % (',"params":' + "[" * 300 + "]" * 300),
    SUBMIT % (',"params":{"a":' + DEEP + "}"),
    SUBMIT % ',"priority":"batch","idempotency_key":"k"',
    SUBMIT % ',"priority":"later"',
    '{"type":"submit","type":"ping","ref":"a"}',
    '{"type":"ping","type":"submit","request":{"model":"m","input":{}}}',
    '{"type":"ping","ref":"a","ref":"b"}',
    '{"type":"ping","ref":null}',
    '{"type":"ping","ref":12}',
    '{"type":"ping","ref":"' + "x" * 300 + '"}',
    '{"type":"ping","extra":1}',
    '{"type":"ping"}',
    '\ufeff{"type":"ping"}',
    ' {"type":"ping"}\n',
    '{"type":"ping"} x',
    '{"type":"subscribe","job_id":"00","after":9223372036854775808}',
    '{"type":"subscribe","job_id":"00","after":1.0}',
    '{"type":"subscribe","job_id":"00","after":1e3}',
    '{"type":"subscribe","job_id":"00","after":"1"}',
    '{"type":"subscribe","job_id":"00","after":true}',
    '{"type":"subscribe","job_id":"00","after":-1}',
    '{"type":"subscribe","job_id":"\\ud800"}',
    '{"type":"cancel","job_id":"abc"}',
    '{"type":"unsubscribe","job_id":"abc"}',
    '{"type":"submit","request":{"model":"m","input":{"messages":[]}},"subscribe":false}',
    '{"type":"submit","request":{"model":"m","input":{}},"subscribe":1}',
    '{"type":"submit","request":{"model":"m","input":{}},"subscribe":"true"}',
    '{"type":"Ping"}',
    "[]",
    "1",
    '"ping"',
    "null",
    "",
]


def _detailed(text: str) -> tuple[str, Any]:
    """What the detailed parse makes of `text`: the message's fields, or a refusal."""
    try:
        return "ok", repr(ClientMessageAdapter.validate_python(json.loads(text)).model_dump())
    except (ValueError, RecursionError, ValidationError):
        return "refused", None


@pytest.mark.parametrize("text", MESSAGES)
def test_a_message_reads_as_the_detailed_parse_reads_it(text: str) -> None:
    try:
        parsed: tuple[str, Any] = "ok", repr(_parse(text, 1 << 20).model_dump())
    except _BadMessage:
        parsed = "refused", None
    assert parsed == _detailed(text)


def test_a_refused_message_still_says_what_is_wrong() -> None:
    with pytest.raises(_BadMessage) as unknown:
        _parse('{"type":"pong","ref":"r7"}', 1 << 20)
    assert unknown.value.code == "unknown_message_type" and unknown.value.ref == "r7"
    with pytest.raises(_BadMessage) as invalid:
        _parse('{"type":"ping"', 1 << 20)
    assert invalid.value.code == "invalid_json"
