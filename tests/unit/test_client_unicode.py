"""A lone UTF-16 surrogate is refused however a client model is read: from Python values by
`ClientModel`'s walk, from JSON by pydantic's parser (which the walk then skips)."""

import json

import pytest
from pydantic import ValidationError

from contracts.jobs import JobRequest

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("where", ["model", "input", "key"])
def test_a_lone_surrogate_is_refused_from_python_values_and_from_json(where: str) -> None:
    value: dict[str, object] = {"model": "sim", "input": dict(CHAT)}
    if where == "model":
        value["model"] = "sim\ud800"
    elif where == "input":
        value["input"] = {"messages": [{"role": "user", "content": "a\udfff"}]}
    else:
        value["input"] = {**CHAT, "\ud83d": 1}
    with pytest.raises(ValidationError) as from_python:
        JobRequest.model_validate(value)
    assert "lone UTF-16 surrogate" in str(from_python.value)
    escaped = json.dumps(value)  # the surrogate as a `\\ud800`-style escape
    assert "\\ud" in escaped
    JobRequest.model_validate_json(escaped.replace("\\ud", "\\u00"))  # valid once mended
    with pytest.raises(ValidationError) as from_json:
        JobRequest.model_validate_json(escaped)
    assert from_json.value.errors()[0]["type"] == "json_invalid"


def test_json_without_surrogates_is_read_as_from_python_values() -> None:
    message = '{"role": "user", "content": "h\\u00e9 \\ud83d\\ude00"}'  # a surrogate pair
    body = '{"model": "sim", "input": {"messages": [' + message + "]}}"
    assert JobRequest.model_validate_json(body).input["messages"][0]["content"] == "hé 😀"
