"""Helpers of the input attacks: a second user streaming a job while the attack runs."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.support.client import CHAT_INPUT, assert_complete, submit, ws_connect
from tests.support.stack import Edge, auth

BOUNDS = [2**31, 2**53, 2**63, 2**64, 2**64 + 1, 10**400 // 10**300, -1, -(2**63)]
"""Integers at and past every bound a client could reach (2^53 - 1 is the largest taken)."""
MAX_SAFE = 2**53 - 1
PAST_SEED = [value for value in BOUNDS if not 0 <= value <= MAX_SAFE] + [MAX_SAFE + 1]
"""Seeds outside 0..2^53 - 1: refused."""
VICTIM_DEADLINE = 60.0


@asynccontextmanager
async def victim_streaming(
    edge: Edge, tokens: int = 60, model: str = "slow"
) -> AsyncIterator[None]:
    """Bob submits a job (on `slow` unless told) and follows it over the WebSocket for the
    whole block; afterwards his job must stream, gap-free, to `job-end` within the deadline."""
    job_id = submit(edge, model=model, user="bob", params={"max_tokens": tokens})
    async with ws_connect(edge, "bob") as connection:
        subscribe = {"type": "subscribe", "job_id": job_id, "after": 0}
        await connection.send(json.dumps(subscribe))
        events: list[dict[str, Any]] = []

        async def collect() -> None:
            while True:
                message = json.loads(await connection.recv())
                if message.get("job_id") == job_id and "seq" in message:
                    events.append(message)
                    if message["type"] == "job-end":
                        return

        task = asyncio.create_task(collect())
        try:
            yield
            await asyncio.wait_for(task, VICTIM_DEADLINE)
        finally:
            task.cancel()
    assert_complete(events)
    assert events[-1]["status"] == "succeeded"


def edge_serves(edge: Edge) -> None:
    """The edge still answers a plain request after an attack."""
    response = httpx.get(f"{edge.url}/v1/jobs", headers=auth("bob"), timeout=10)
    assert response.status_code == 200, response.text


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert error["message"] and "Traceback" not in error["message"]
    if code is not None:
        assert error["code"] == code, error


def assert_4xx(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert error["message"] and error.get("code")


async def ws_ask(connection: Any, message: str | bytes) -> dict[str, Any]:
    """Send one message; the next control reply (no event) answers it."""
    await connection.send(message)
    while True:
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), 30))
        if "seq" not in reply:
            return reply


__all__ = ["BOUNDS", "CHAT_INPUT", "MAX_SAFE", "PAST_SEED", "victim_streaming"]
