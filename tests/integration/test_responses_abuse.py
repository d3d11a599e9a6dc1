"""Bad requests to the Responses API, from anyone: each a clear 4xx in OpenAI's shape that
changes nothing else."""

from typing import Any

import httpx
import openai
import pytest

from tests.support.openai_clients import openai_client
from tests.support.stack import LIFTED_LIMITS, Stack, auth

pytestmark = pytest.mark.integration


def client(url: str, key: str = "alice-key") -> openai.OpenAI:
    return openai_client(url, key)


def openai_shaped(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["code"] == code, error
    assert error["message"]
    return error


BAD_BODIES: list[tuple[dict[str, Any] | bytes, int, str, str | None]] = [
    ({"input": ""}, 400, "invalid_request", None),
    ({"input": []}, 400, "invalid_request", None),
    ({"input": [{"role": "user", "content": "  "}]}, 400, "invalid_request", None),
    ({"input": "x" * (600 << 10)}, 413, "input_too_large", None),
    ({"input": "x" * (2 << 20)}, 413, "payload_too_large", None),
    ({"input": "\u00e9\u6f22" * 10, "max_output_tokens": 0}, 400, "invalid_request", None),
    ({"max_output_tokens": -1}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": 2**63}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": 2**64}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": 5.0}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": "5"}, 400, "invalid_request", "max_output_tokens"),
    (b'{"model":"sim","input":"hi","max_output_tokens":NaN}', 400, "invalid_request", None),
    (b'{"model":"sim","input":"hi","temperature":NaN}', 400, "invalid_request", "temperature"),
    ({"temperature": 2.5}, 400, "invalid_request", "temperature"),
    ({"top_p": 0}, 400, "invalid_request", "top_p"),
    ({"background": "yes"}, 400, "invalid_request", "background"),
    (b'{"model":"sim","input":"\\ud800"}', 400, "invalid_request", None),
    ({"metadata": {"k" * 65: "v"}}, 400, "invalid_request", None),
    ({"tools": [{"type": "web_search"}]}, 400, "unsupported_parameter", "tools"),
    ({"previous_response_id": "resp_1"}, 400, "unsupported_parameter", "previous_response_id"),
    ({"store": False}, 400, "unsupported_parameter", "store"),
    ({"text": {"format": {"type": "json_object"}}}, 400, "unsupported_parameter", "text"),
    ({"frobnicate": 1}, 400, "unsupported_parameter", "frobnicate"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
        400,
        "unsupported_parameter",
        "input",
    ),
    ({"model": "embed"}, 400, "invalid_request", None),
    ({"model": "nope"}, 404, "model_not_found", None),
    (b"{", 400, "invalid_json", None),
]


def test_bad_requests_get_a_clear_4xx_in_openai_shape(stack: Stack) -> None:
    edge = stack.edge(LIFTED_LIMITS)
    url = f"{edge.url}/v1/responses"
    for body, status, code, param in BAD_BODIES:
        if isinstance(body, bytes):
            headers = {**auth(), "Content-Type": "application/json"}
            answer = httpx.post(url, content=body, headers=headers, timeout=10)
        else:
            payload = {"model": "sim", "input": "hi", **body}
            answer = httpx.post(url, json=payload, headers=auth(), timeout=10)
        error = openai_shaped(answer, status, code)
        if param is not None:
            assert error["param"] == param, (body, error)
    # nothing was queued by any of them
    with stack.redis() as store:
        assert store.zcard(stack.keys.user_jobs("alice")) == 0
    # the openai client names the field it refused
    with pytest.raises(openai.BadRequestError) as refused:
        client(edge.url).responses.create(
            model="sim", input="hi", tools=[{"type": "web_search"}], background=True
        )
    assert refused.value.code == "unsupported_parameter" and refused.value.param == "tools"


def test_ids_and_positions_that_name_nothing_are_refused(stack: Stack) -> None:
    edge = stack.edge(LIFTED_LIMITS)
    stack.worker("sim")
    api = client(edge.url)
    alices = api.responses.create(model="sim", input="hi", max_output_tokens=3)
    url = f"{edge.url}/v1/responses"
    for other in (
        f"{alices.id}x",
        alices.id.removeprefix("resp_"),
        "resp_" + "g" * 32,
        "resp_",
        "resp_" + "0" * 32,
        "resp_%F0%9F%98%80",
        "resp_" + "a" * 5000,
    ):
        openai_shaped(httpx.get(f"{url}/{other}", headers=auth(), timeout=10), 404, "not_found")
    embeddings = httpx.post(
        f"{edge.url}/v1/jobs",
        json={"model": "embed", "input": {"texts": ["a"]}},
        headers=auth(),
        timeout=10,
    )
    assert embeddings.status_code == 202  # a job of alice's, but no response
    answer = httpx.get(f"{url}/resp_{embeddings.json()['id']}", headers=auth(), timeout=10)
    openai_shaped(answer, 404, "not_found")
    for method, path in (
        ("GET", ""),
        ("GET", "?stream=true"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ):
        answer = httpx.request(method, f"{url}/{alices.id}{path}", headers=auth("bob"))
        openai_shaped(answer, 404, "not_found")
    for position in ("-1", str(2**63), str(2**64), "1.5", "abc", "NaN", ""):
        answer = httpx.get(
            f"{url}/{alices.id}?stream=true&starting_after={position}", headers=auth()
        )
        openai_shaped(answer, 400, "invalid_request")
    whole = list(api.responses.retrieve(alices.id, stream=True))
    last = whole[-1].sequence_number
    past = httpx.get(f"{url}/{alices.id}?stream=true&starting_after={last + 1}", headers=auth())
    openai_shaped(past, 400, "seq_out_of_range")
    at_end = list(api.responses.retrieve(alices.id, stream=True, starting_after=last))
    assert at_end == []
    # bob's tries changed nothing of alice's
    assert api.responses.retrieve(alices.id).output_text == alices.output_text
    # after its log expired, a stream is a 410 and the response is still there without it
    with stack.redis() as store:
        store.delete(stack.keys.events(alices.id.removeprefix("resp_")))
    expired = httpx.get(f"{url}/{alices.id}?stream=true&starting_after=1", headers=auth())
    openai_shaped(expired, 410, "events_expired")
    assert api.responses.retrieve(alices.id).output_text == alices.output_text


def test_a_response_stream_holds_one_of_its_users_stream_slots(stack: Stack) -> None:
    edge = stack.edge({"EDGE_MAX_STREAMS_PER_USER": "1"})
    api = client(edge.url)
    queued = api.responses.create(model="sim", input="hi", background=True)  # no worker: waits
    url = f"{edge.url}/v1/responses/{queued.id}?stream=true"
    with httpx.stream("GET", url, headers=auth(), timeout=10) as first:
        assert first.status_code == 200
        second = httpx.get(url, headers=auth(), timeout=10)
        openai_shaped(second, 429, "too_many_connections")
        assert httpx.get(url.replace("stream=true", "stream=false"), headers=auth()).is_success
    assert api.responses.cancel(queued.id).status == "cancelled"
