"""Helpers for the browser attacks: one stack per module (an edge in guest mode that also takes
keys, logging every request, and a `slow` worker), and a bystander, Bob, whose job streams over
the WebSocket while an attack runs and must still reach `job-end` in time."""

import asyncio
import base64
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.client import assert_complete, submit, ws_connect
from tests.support.stack import Edge, Stack, auth

BYSTANDER_DEADLINE = 60.0
EVIL_ORIGIN = "https://evil.example"
REBOUND_HOST = "attacker.example"


@dataclass
class BrowserStack:
    stack: Stack
    edge: Edge

    @property
    def url(self) -> str:
        return self.edge.url

    @property
    def own_origin(self) -> str:
        return f"http://127.0.0.1:{self.edge.port}"


@contextlib.contextmanager
def browser_stack(redis_url: str, workdir: Path) -> Iterator[BrowserStack]:
    stack = Stack(redis_url, workdir)
    try:
        # INFO: uvicorn writes its access log, which must hold no query string.
        edge = stack.edge(env={"EDGE_GUEST_MODE": "true", "RELAYLINE_LOG_LEVEL": "INFO"})
        stack.worker("slow")
        yield BrowserStack(stack, edge)
    finally:
        stack.close()


@dataclass
class Bystander:
    """Bob's job, followed over the WebSocket from before the attack to its end."""

    job_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    streaming: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, edge: Edge) -> None:
        async with ws_connect(edge, user="bob") as connection:
            await connection.send(json.dumps({"type": "subscribe", "job_id": self.job_id}))
            async for raw in connection:
                message = json.loads(raw)
                if message.get("job_id") != self.job_id or "seq" not in message:
                    continue
                self.events.append(message)
                if message["type"] == "text-delta":
                    self.streaming.set()
                if message["type"] == "job-end":
                    return


@contextlib.asynccontextmanager
async def while_bob_streams(edge: Edge, tokens: int = 60) -> AsyncIterator[Bystander]:
    """Runs the body while Bob's job streams; then Bob's job must end, complete, in time."""
    bob = Bystander(submit(edge, model="slow", user="bob", params={"max_tokens": tokens}))
    task = asyncio.create_task(bob.follow(edge))
    try:
        async with asyncio.timeout(BYSTANDER_DEADLINE):
            await bob.streaming.wait()
        yield bob
        async with asyncio.timeout(BYSTANDER_DEADLINE):
            await task
    finally:
        task.cancel()
    assert_complete(bob.events)
    assert bob.events[-1]["status"] == "succeeded", bob.events[-1]


def client(edge: Edge, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=edge.url, timeout=10, **options)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    return str(body["error"]["code"])


async def alice_job(edge: Edge) -> str:
    async with client(edge, headers=auth("alice")) as alice:
        body = {"model": "slow", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        response = await alice.post("/v1/jobs", json={**body, "params": {"max_tokens": 5}})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])


async def ticket(edge: Edge, purpose: str, user: str = "alice") -> str:
    async with client(edge, headers=auth(user)) as caller:
        response = await caller.post("/v1/tickets", json={"purpose": purpose})
        assert response.status_code == 201, response.text
        return str(response.json()["ticket"])


async def handshake(edge: Edge, headers: dict[str, str], query: str = "") -> tuple[int, bytes]:
    """A raw WebSocket handshake with exactly these headers: (status, the rest of the answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET /v1/ws{query} HTTP/1.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status == 101:
                return status, head
            length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            return status, head + body
    finally:
        writer.close()


def host(edge: Edge) -> str:
    return f"127.0.0.1:{edge.port}"
