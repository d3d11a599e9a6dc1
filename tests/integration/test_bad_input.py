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
