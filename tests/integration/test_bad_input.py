"""Bad input gets a clear 4xx (or a WebSocket `error`) with a code, and changes nothing."""

import json
from typing import Any

import httpx
import pytest

from tests.support.client import CHAT_INPUT, assert_complete, submit, ws_connect, ws_follow
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

CASES: list[tuple[str, Any, int, str]] = [
    ("malformed json", b'{"model": "sim", "input": ', 400, "invalid_json"),
    ("not an object", b"[1, 2]", 422, "invalid_request"),
    ("unknown model", {"model": "nope", "input": CHAT_INPUT}, 404, "unknown_model"),
    ("missing input", {"model": "sim"}, 422, "invalid_request"),
    ("empty messages", {"model": "sim", "input": {"messages": []}}, 422, "invalid_request"),
    (
        "empty content",
        {"model": "sim", "input": {"messages": [{"role": "user", "content": " "}]}},
        422,
        "invalid_request",
    ),
    (
        "bad role",
        {"model": "sim", "input": {"messages": [{"role": "x", "content": "hi"}]}},
        422,
        "invalid_request",
    ),
    ("chat input to embeddings", {"model": "embed", "input": CHAT_INPUT}, 422, "invalid_request"),
    ("empty texts", {"model": "embed", "input": {"texts": []}}, 422, "invalid_request"),
    (
        "bad param",
        {"model": "sim", "input": CHAT_INPUT, "params": {"temperature": 9}},
        422,
        "invalid_request",
    ),
    (
        "unknown param",
        {"model": "sim", "input": CHAT_INPUT, "params": {"bogus": 1}},
        422,
        "invalid_request",
    ),
    ("unknown field", {"model": "sim", "input": CHAT_INPUT, "extra": 1}, 422, "invalid_request"),
    *(
        (f"lax {name}", {"model": model, "input": given, "params": params}, 422, "invalid_request")
        for name, model, given, params in [
            ("seed", "sim", CHAT_INPUT, {"seed": True}),
            ("max_tokens", "sim", CHAT_INPUT, {"max_tokens": "5"}),
            ("temperature", "sim", CHAT_INPUT, {"temperature": "0.5"}),
            ("normalize", "embed", {"texts": ["a"]}, {"normalize": "yes"}),
        ]
    ),
    (
        "oversize body",
        {"model": "embed", "input": {"texts": ["x" * 2_000_000]}},
        413,
        "payload_too_large",
    ),
]


def test_bad_submits_get_a_4xx_with_a_code_and_change_nothing(stack: Stack) -> None:
    edge = stack.edge()
    for name, body, status, code in CASES:
        if isinstance(body, bytes):
            response = httpx.post(
                f"{edge.url}/v1/jobs",
                content=body,
                headers={**auth(), "Content-Type": "application/json"},
            )
        else:
            response = httpx.post(f"{edge.url}/v1/jobs", json=body, headers=auth())
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (name, error)
        assert error["message"] and "Traceback" not in error["message"], name
    assert httpx.get(f"{edge.url}/v1/jobs", headers=auth()).json()["data"] == []
    client = stack.redis()
    for pool in ("sim", "embed"):
        assert all(client.xlen(stream) == 0 for stream in stack.keys.job_streams(pool))


def test_a_submits_body_and_headers_are_read_as_fastapi_reads_them(stack: Stack) -> None:
    """`POST /v1/jobs` resolves its arguments by hand (`edge.routers.jobs.SubmitRoute`): a
    JSON body only under a JSON content type, the key before the body, every field at fault
    in one 422 (the header's first), and the answer FastAPI's response model would give."""
    edge = stack.edge()
    url, body = f"{edge.url}/v1/jobs", json.dumps({"model": "sim", "input": CHAT_INPUT})

    def post(content: str | bytes, **headers: str) -> httpx.Response:
        return httpx.post(url, content=content, headers=headers)

    json_type = {"Content-Type": "application/json"}
    refused = [
        (post(body, **auth()), 422, "body: Input should be a valid dictionary"),
        (post(body, **auth(), **{"Content-Type": "text/plain"}), 422, "body: Input should be"),
        (post(b"", **auth(), **json_type), 422, "body: Field required"),
        (post("{not json", **json_type), 401, "send 'Authorization: Bearer"),
        (
            post('{"model": "sim"}', **auth(), **json_type, **{"Idempotency-Key": "k" * 300}),
            422,
            "header.idempotency-key: String should have at most 200 characters; "
            "input: Field required",
        ),
        (
            post(
                json.dumps({"model": "sim", "input": CHAT_INPUT, "idempotency_key": "a"}),
                **auth(),
                **json_type,
                **{"Idempotency-Key": "b"},
            ),
            400,
            "the Idempotency-Key header and field disagree",
        ),
    ]
    for response, status, message in refused:
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"].startswith(message), response.text
    assert httpx.get(url, headers=auth()).json()["data"] == []

    for content_type in ("application/json; charset=utf-8", "Application/Vnd.Relayline+JSON"):
        accepted = post(body, **auth(), **{"Content-Type": content_type})
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["content-type"] == "application/json"
        assert accepted.json() == {"id": accepted.json()["id"], "status": "queued"}
    again = post(body, **auth(), **json_type, **{"Idempotency-Key": "same"})
    assert post(body, **auth(), **json_type, **{"Idempotency-Key": "same"}).json() == again.json()
    assert len(httpx.get(url, headers=auth()).json()["data"]) == 3


def test_other_bad_requests(stack: Stack) -> None:
    edge = stack.edge()
    job_id = submit(edge)
    checks = [
        (
            httpx.get(
                f"{edge.url}/v1/jobs/{job_id}/events", headers={**auth(), "Last-Event-ID": "x"}
            ),
            400,
            "invalid_request",
        ),
        (
            httpx.get(f"{edge.url}/v1/jobs", params={"limit": 0}, headers=auth()),
            422,
            "invalid_request",
        ),
        (httpx.get(f"{edge.url}/v1/nothing-here", headers=auth()), 404, "not_found"),
        (httpx.delete(f"{edge.url}/v1/jobs", headers=auth()), 405, "method_not_allowed"),
    ]
    for response, status, code in checks:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code


async def test_bad_websocket_messages_get_errors_and_the_socket_goes_on(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    bad = [
        ("not json", "invalid_json"),
        ('"a string"', "invalid_request"),
        ('{"type": "bogus"}', "unknown_message_type"),
        ('{"type": "subscribe", "job_id": "../etc"}', "invalid_request"),
        ('{"type": "subscribe"}', "invalid_request"),
        ('{"type": "submit", "request": {"model": "nope", "input": {}}}', "unknown_model"),
        (
            '{"type": "submit", "request": {"model": "sim", "input": {"messages": []}}}',
            "invalid_request",
        ),
    ]
    async with ws_connect(edge) as connection:
        for text, code in bad:
            await connection.send(text)
            reply = json.loads(await connection.recv())
            assert reply["type"] == "error" and reply["code"] == code, (text, reply)
        await connection.send(json.dumps({"type": "ping", "ref": "p"}))
        assert json.loads(await connection.recv()) == {"type": "pong", "ref": "p"}
        request = {"model": "sim", "input": CHAT_INPUT, "params": {"max_tokens": 3}}
        await connection.send(json.dumps({"type": "submit", "request": request, "ref": "s"}))
        submitted = json.loads(await connection.recv())
        assert submitted["type"] == "submitted" and submitted["ref"] == "s"
    assert_complete(await ws_follow(edge, submitted["job_id"]))
