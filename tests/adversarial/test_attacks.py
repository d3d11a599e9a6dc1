"""Attacks found by the adversarial pass after the issue 9 work was merged, each run while a
second user streams a job: the attack is refused with a 4xx (or a WebSocket `error`), the
edge stays up, and the second user's job streams to `job-end` within its deadline."""

import json

import httpx
import pytest

from tests.adversarial.inputs_support import edge_serves, victim_streaming, ws_ask
from tests.support.client import CHAT_INPUT, ws_connect
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

DEPTHS = [400, 600, 900]
"""JSON nesting that the JSON parser takes (it stops near 1000 levels) but that a recursive
walk of the parsed value, two Python frames a level, does not."""


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_deeply_nested_json_is_a_4xx_not_a_500(stack: Stack) -> None:
    """Every body a client sends is searched for lone surrogates before it is validated;
    a recursive search raised RecursionError on a few hundred levels of nesting: a 500 on
    HTTP, and a WebSocket dropped without a close frame."""
    edge = stack.edge()
    stack.worker("slow")
    headers = {**auth(), "Content-Type": "application/json"}
    messages = json.dumps(CHAT_INPUT["messages"])
    async with victim_streaming(edge), ws_connect(edge) as connection:
        for depth in DEPTHS:
            nested = _nested(depth)
            bodies = {
                "/v1/jobs": f'{{"model": "sim", "input": {{"messages": {messages}, '
                f'"x": {nested}}}}}',
                "/v1/chat/completions": f'{{"model": "sim", "messages": {messages}, '
                f'"stop": {nested}}}',
                "/v1/embeddings": f'{{"model": "embed", "input": {nested}}}',
            }
            for path, body in bodies.items():
                response = httpx.post(f"{edge.url}{path}", content=body, headers=headers)
                assert 400 <= response.status_code < 500, (path, depth, response.text[:300])
                assert response.json()["error"]["message"]
            request = f'{{"model": "sim", "input": {{"x": {nested}}}}}'
            submit = f'{{"type": "submit", "request": {request}}}'
            reply = await ws_ask(connection, submit)
            assert reply["type"] == "error" and reply["code"] == "invalid_request", reply
        assert await ws_ask(connection, '{"type": "ping", "ref": "ok"}') == {
            "type": "pong",
            "ref": "ok",
        }
    edge_serves(edge)
