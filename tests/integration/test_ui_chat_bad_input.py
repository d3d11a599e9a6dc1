"""`/v1/ui/chat` refuses bad input with a clear 4xx and starts nothing: huge, empty or
unsupported messages, unknown models, chat ids of 10 KB, non-ASCII, `..` or a NUL."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.test_ui_chat import chat_body
from tests.support.stack import Edge, Stack, auth

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def edge(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    stack = Stack(redis_server_url, tmp_path_factory.mktemp("ui-chat-bad-input"))
    try:
        yield stack.edge()  # no worker: nothing here may reach one
    finally:
        stack.close()


def message_with(part: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": "u1", "role": "user", "parts": [part]}]


BAD: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown model", {"model": "nope"}, 404, "unknown_model"),
    ("embeddings model", {"model": "embed"}, 400, "invalid_request"),
    ("no model", {"model": None}, 422, "invalid_request"),
    ("chat id of 10 KB", {"id": "c" * 10_000}, 422, "invalid_request"),
    ("empty chat id", {"id": ""}, 422, "invalid_request"),
    ("non-ASCII chat id", {"id": "chät"}, 422, "invalid_request"),
    ("dot chat id", {"id": ".."}, 422, "invalid_request"),
    ("no messages", {"messages": []}, 422, "invalid_request"),
    (
        "empty text",
        {"messages": message_with({"type": "text", "text": "  "})},
        422,
        "invalid_request",
    ),
    (
        "file part",
        {"messages": message_with({"type": "file", "mediaType": "image/png", "url": "data:,x"})},
        422,
        "invalid_request",
    ),
    (
        "tool part",
        {
            "messages": message_with(
                {"type": "tool-weather", "toolCallId": "t", "state": "input-available"}
            )
        },
        422,
        "invalid_request",
    ),
    (
        "both forms",
        {"message": message_with({"type": "text", "text": "x"})[0]},
        422,
        "invalid_request",
    ),
    (
        "huge message",
        {"messages": message_with({"type": "text", "text": "x" * 900_000})},
        413,
        "input_too_large",
    ),
    (
        "oversize body",
        {"messages": message_with({"type": "text", "text": "x" * 2_000_000})},
        413,
        "payload_too_large",
    ),
    ("bad param", {"params": {"temperature": 9}}, 422, "invalid_request"),
    ("unknown field", {"extra": 1}, 422, "invalid_request"),
    (
        "lone surrogate",
        {"messages": message_with({"type": "text", "text": "\ud800"})},
        422,
        "invalid_request",
    ),
]


@pytest.mark.parametrize(("name", "change", "status", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_clear_4xx(
    edge: Edge, name: str, change: dict[str, Any], status: int, code: str
) -> None:
    body = {**chat_body("bad-input"), **change}
    body = {key: value for key, value in body.items() if value is not None}
    content = json.dumps(body).encode("utf-8", "surrogatepass")
    headers = {**auth(), "Content-Type": "application/json"}
    response = httpx.post(f"{edge.url}/v1/ui/chat", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    jobs = httpx.get(f"{edge.url}/v1/jobs", headers=auth())
    assert jobs.json()["data"] == []  # nothing was started


@pytest.mark.parametrize("chat_id", ["c" * 10_000, "ch%C3%A4t", "%2E%2E", "a%00b"])
def test_bad_chat_ids_in_the_path_are_refused(edge: Edge, chat_id: str) -> None:
    for method, tail in (("GET", "stream"), ("POST", "stop")):
        url = f"{edge.url}/v1/ui/chat/{chat_id}/{tail}"
        response = httpx.request(method, url, headers=auth())
        assert response.status_code in (404, 422), (method, response.text)
        assert response.json()["error"]["code"] in ("invalid_request", "not_found")


def test_an_unknown_reset_mode_is_refused(edge: Edge) -> None:
    for method, url in (("POST", "/v1/ui/chat"), ("GET", "/v1/ui/chat/c/stream")):
        body = chat_body("reset-mode") if method == "POST" else None
        response = httpx.request(method, f"{edge.url}{url}?reset=bogus", json=body, headers=auth())
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
