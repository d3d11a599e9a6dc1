"""Guests multiplying limits: one client address drops its cookie to get new guests, each
minted by the edge, and tries to hold more than one guest's share. The guests of one address
share the guest tier's limits (unfinished jobs, open streams, stored output), while a keyed
user and a guest of another address (a client bound to 127.0.0.2) are unaffected, and a
second user's job streams to `job-end` meanwhile. Real edge and worker processes, real
Redis."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from contracts.errors import WS_CLOSE_TOO_MANY
from contracts.jobs import TERMINAL_STATUSES
from tests.adversarial.rates_support import victim_streaming
from tests.support.client import CHAT_INPUT, refused_close
from tests.support.stack import Edge, Stack, auth
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration

HERE, THERE = "127.0.0.1", "127.0.0.2"
SHARED = "the guests of your network address"
GUEST_MODE = {
    "EDGE_GUEST_MODE": "true",
    "EDGE_GUEST_RATE_LIMIT_BURST": "1000",  # not what these tests are about
    "EDGE_GUEST_RATE_LIMIT_PER_SECOND": "1000",
}
QUEUED = {"model": "sim", "input": CHAT_INPUT}
"""A job of the `sim` pool: it stays queued (unfinished) until a `sim` worker starts."""


class Guest:
    """A client at one local address with the guest cookie the edge minted for it."""

    def __init__(self, edge: Edge, client: httpx.AsyncClient, address: str) -> None:
        self.edge, self.client, self.address = edge, client, address
        self.cookie = ""

    @property
    def user(self) -> str:
        return "guest-" + self.cookie.partition(".")[0]

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(f"{self.edge.url}{path}", json=body)

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(f"{self.edge.url}{path}")

    def websocket(self) -> Any:
        return connect(
            self.edge.ws_url,
            additional_headers={"Cookie": f"rl_guest={self.cookie}"},
            open_timeout=10,
            local_addr=(self.address, 0),
        )


@asynccontextmanager
async def guests(edge: Edge, address: str, count: int) -> AsyncIterator[list[Guest]]:
    """`count` new guests at `address`, each with its own cookie from the edge."""
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(count):
            transport = httpx.AsyncHTTPTransport(local_address=address)
            client = httpx.AsyncClient(transport=transport, timeout=10)
            guest = Guest(edge, await stack.enter_async_context(client), address)
            response = await guest.get("/v1/jobs")
            assert response.status_code == 200, response.text
            guest.cookie = response.cookies["rl_guest"]
            made.append(guest)
        assert len({guest.user for guest in made}) == count
        yield made


async def ponged(connection: Any) -> bool:
    await connection.send(json.dumps({"type": "ping", "ref": "p"}))
    return bool(json.loads(await asyncio.wait_for(connection.recv(), 10))["type"] == "pong")


def refused(response: httpx.Response, code: str) -> bool:
    error = response.json()["error"]
    return response.status_code == 429 and error["code"] == code and SHARED in error["message"]


async def test_guests_of_one_address_share_the_caps_of_unfinished_jobs_and_streams(
    stack: Stack,
) -> None:
    limits = {"EDGE_GUEST_MAX_ACTIVE_JOBS_PER_USER": "2", "EDGE_GUEST_MAX_STREAMS_PER_USER": "2"}
    edge = stack.edge(env={**GUEST_MODE, **limits})
    stack.worker("slow")
    async with (
        victim_streaming(edge),
        guests(edge, HERE, 3) as (one, two, three),
        guests(edge, THERE, 1) as (elsewhere,),
    ):
        first, second = (await one.post("/v1/jobs", QUEUED), await two.post("/v1/jobs", QUEUED))
        assert first.status_code == second.status_code == 202
        third = await three.post("/v1/jobs", QUEUED)
        assert refused(third, "rate_limited"), third.text
        assert (await elsewhere.post("/v1/jobs", QUEUED)).status_code == 202
        async with httpx.AsyncClient(timeout=10) as keyed:
            answer = await keyed.post(f"{edge.url}/v1/jobs", json=QUEUED, headers=auth())
            assert answer.status_code == 202

        # Ownership stays per guest: another guest of the address cannot see or cancel.
        job = first.json()["id"]
        assert (await two.get(f"/v1/jobs/{job}")).status_code == 404
        assert (await two.post(f"/v1/jobs/{job}/cancel")).status_code == 404
        assert (await one.post(f"/v1/jobs/{job}/cancel")).status_code == 202
        assert (await three.post("/v1/jobs", QUEUED)).status_code == 202  # a slot came free

        async with AsyncExitStack() as held:
            for guest in (one, two):
                assert await ponged(await held.enter_async_context(guest.websocket()))
            code, reason = await refused_close(three.websocket())
            assert code == WS_CLOSE_TOO_MANY and reason.startswith("too_many_connections")
            assert SHARED in reason
            sse = await three.get(f"/v1/jobs/{job}/events")
            assert refused(sse, "too_many_connections"), sse.text
            async with elsewhere.websocket() as other:
                assert await ponged(other)

        # The worker ends the jobs through the same account: its count drops to nothing.
        stack.worker("sim")
        await async_wait_for(lambda: all_ended(two, three), timeout=60, what="guest jobs end")
        client = stack.redis()
        try:
            assert client.get(stack.keys.user_active(one.user)) is None  # deleted at zero
            # in any shard, only the other address' account may still count a job
            left = set(client.keys(f"{stack.prefix}*user:guest-*:active"))
            assert left <= {stack.keys.user_active(elsewhere.user)}
        finally:
            client.close()
        assert (await three.post("/v1/jobs", QUEUED)).status_code == 202


async def all_ended(*owners: Guest) -> bool:
    for guest in owners:
        page = (await guest.get("/v1/jobs")).json()
        if any(job["status"] not in TERMINAL_STATUSES for job in page["data"]):
            return False
    return True


async def test_guests_of_one_address_share_the_storage_budget(stack: Stack) -> None:
    # A budget of one byte: one unfinished chat job holds the pool's max_output_bytes.
    limits = {"EDGE_GUEST_MAX_STORED_BYTES_PER_USER": "1"}
    edge = stack.edge(env={**GUEST_MODE, **limits})
    async with guests(edge, HERE, 2) as (one, two), guests(edge, THERE, 1) as (elsewhere,):
        assert (await one.post("/v1/jobs", QUEUED)).status_code == 202
        over = await two.post("/v1/jobs", QUEUED)
        assert refused(over, "storage_quota"), over.text
        assert int(over.headers["Retry-After"]) >= 1
        openai = await two.post("/v1/chat/completions", {"model": "sim", **CHAT_INPUT})
        assert openai.status_code == 429 and SHARED in openai.json()["error"]["message"]
        assert (await elsewhere.post("/v1/jobs", QUEUED)).status_code == 202
        async with httpx.AsyncClient(timeout=10) as keyed:
            answer = await keyed.post(f"{edge.url}/v1/jobs", json=QUEUED, headers=auth())
            assert answer.status_code == 202


async def test_guests_of_one_address_share_the_request_bucket(stack: Stack) -> None:
    rates = {"EDGE_GUEST_RATE_LIMIT_BURST": "6", "EDGE_GUEST_RATE_LIMIT_PER_SECOND": "0.01"}
    edge = stack.edge(env={**GUEST_MODE, **rates})
    async with guests(edge, HERE, 2) as (one, two), guests(edge, THERE, 1) as (elsewhere,):
        statuses = [(await one.get("/v1/jobs")).status_code for _ in range(6)]
        assert statuses == [200] * 4 + [429] * 2, statuses  # 2 tokens went to minting
        over = await two.get("/v1/jobs")
        assert refused(over, "rate_limited"), over.text
        assert (await elsewhere.get("/v1/jobs")).status_code == 200
        async with httpx.AsyncClient(timeout=10) as keyed:
            assert (await keyed.get(f"{edge.url}/v1/jobs", headers=auth())).status_code == 200
