"""Large records never stall the edge: one user reads a 16 MB output over and over (its job,
its list, its cancel, or a subscribe after its event log expired, answered with the record)
while a second user streams a job, whose events keep arriving.

The edge answers a record with its stored output spliced in as it is; parsing and
re-serializing one would take the event loop close to a second per read."""

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from tests.adversarial.worker_support import assert_streamed_to_the_end, ended, submit
from tests.adversarial.worker_support import record as record_of
from tests.support.client import ws_connect
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth

pytestmark = [pytest.mark.integration, pytest.mark.models, pytest.mark.solo]

TEXTS = [f"relay line {index}: a text to embed, of a few words" for index in range(2048)]
EMBED_DEADLINE = 600
"""Seconds the 2048 texts may take to embed on a busy CPU."""
DEADLINE = 120
"""Seconds for the flood and the second user's job to end."""
MAX_GAP = 2.0
"""Seconds the second user may wait between two events: far more than the 50 ms its job
takes per token, far less than the flood stalls a loop that parses each output."""
READERS = 20
ROUNDS = 3
ERROR_PREFIX = '{"ref":null,"type":"error"'
T = TypeVar("T")


def follow_with_arrivals(edge: Edge, job_id: str, user: str) -> list[tuple[float, dict[str, str]]]:
    """Every event of a job over SSE with the time it arrived, read in a thread of its own
    so that the flood's reads in this process do not delay it."""
    arrivals: list[tuple[float, dict[str, str]]] = []
    url = f"{edge.url}/v1/jobs/{job_id}/events"
    with (
        httpx.Client(timeout=DEADLINE) as client,
        client.stream("GET", url, headers=auth(user)) as response,
    ):
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append((time.monotonic(), json.loads(line[6:])))
                if arrivals[-1][1]["type"] == "job-end":
                    break
    return arrivals


async def large_job(stack: Stack) -> tuple[Edge, str]:
    """An edge, and alice's embeddings job of a ~16 MB output, ended."""
    edge = stack.edge(env=LIFTED_LIMITS)
    stack.worker("embed")
    stack.worker("slow")
    accepted = await submit(edge, "alice", {"model": "embed", "input": {"texts": TEXTS}})
    assert accepted.status_code == 202, accepted.text
    large_id: str = accepted.json()["id"]
    # `ended` reads the record while the job runs: small until its end, then read once
    assert (await ended(edge, large_id, timeout=EMBED_DEADLINE))["status"] == "succeeded"
    return edge, large_id


async def while_bob_streams(
    edge: Edge, flood: Callable[[], Awaitable[T]]
) -> tuple[T, list[tuple[float, dict[str, str]]]]:
    """The flood's answers, run while bob's slow job (20 s) streams, and bob's events with
    their arrival times, followed in a thread: bob's job is cancelled once the flood is
    over, so it streams through the whole flood however long that takes, and no longer."""
    bob = await submit(
        edge,
        "bob",
        {"model": "slow", "input": {"messages": [{"role": "user", "content": "hi"}]}},
    )
    assert bob.status_code == 202, bob.text
    bob_id = bob.json()["id"]
    started = threading.Event()

    def bob_follows() -> list[tuple[float, dict[str, str]]]:
        started.set()
        return follow_with_arrivals(edge, bob_id, "bob")

    following = asyncio.create_task(asyncio.to_thread(bob_follows))
    await asyncio.to_thread(started.wait, 10)
    answers = await asyncio.wait_for(flood(), DEADLINE)
    async with httpx.AsyncClient(timeout=10) as client:
        cancel = await client.post(f"{edge.url}/v1/jobs/{bob_id}/cancel", headers=auth("bob"))
    assert cancel.status_code == 202, cancel.text  # the cancel of a running job is asked for
    arrivals = await asyncio.wait_for(following, DEADLINE)
    assert arrivals[-1][1]["status"] == "cancelled", "bob's job ended before the flood did"
    return answers, arrivals


def assert_flowed(arrivals: list[tuple[float, dict[str, str]]]) -> None:
    events = [event for _, event in arrivals]
    assert_streamed_to_the_end(events, status="cancelled")
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert max(gaps) < MAX_GAP, f"bob waited {max(gaps):.1f} s between two events"


async def test_large_records_leave_other_streams_flowing(stack: Stack) -> None:
    """One large job (embedding 2048 texts takes a while), read both ways in turn."""
    edge, large_id = await large_job(stack)
    await reads_leave_other_streams_flowing(edge, large_id)
    await expired_subscribes_leave_other_streams_flowing(stack, edge, large_id)


async def reads_leave_other_streams_flowing(edge: Edge, large_id: str) -> None:
    """Its record, its list and its cancel, read by 20 clients at once, 3 times."""
    paths = [f"/v1/jobs/{large_id}", "/v1/jobs?limit=100", f"/v1/jobs/{large_id}/cancel"]

    async def read(client: httpx.AsyncClient, index: int) -> tuple[int, int]:
        path = paths[index % len(paths)]
        method = "POST" if path.endswith("/cancel") else "GET"
        response = await client.request(method, f"{edge.url}{path}", headers=auth("alice"))
        return response.status_code, len(response.content)

    async def flood() -> list[tuple[int, int]]:
        answers = []
        async with httpx.AsyncClient(timeout=DEADLINE) as client:
            for _ in range(ROUNDS):
                answers += await asyncio.gather(*(read(client, i) for i in range(READERS)))
        return answers

    answers, arrivals = await while_bob_streams(edge, flood)
    assert {status for status, _ in answers} <= {200, 202}, answers
    assert min(size for _, size in answers) > 10_000_000  # every answer held the output
    assert_flowed(arrivals)


async def subscribe_expired(edge: Edge, job_id: str) -> str:
    """The error that answers alice's subscribe to her job, whose log expired, unparsed. The
    client offers permessage-deflate, as browsers do; the edge declines it (compressing 16 MB
    would stall its loop as a parse does), which `test_the_edge_declines_...` pins."""
    async with ws_connect(edge, "alice", max_size=None) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": 1}))
        while True:
            message = await connection.recv()
            assert isinstance(message, str)
            if message.startswith(ERROR_PREFIX):
                return message


async def expired_subscribes_leave_other_streams_flowing(
    stack: Stack, edge: Edge, large_id: str
) -> None:
    """Subscribes after its event log expired, each answered with the record."""
    client = stack.redis()
    try:
        client.delete(stack.keys.events(large_id))  # what its expiry does
    finally:
        client.close()
    record = await record_of(edge, large_id)

    async def flood() -> list[str]:
        answers: list[str] = []
        for _ in range(ROUNDS):
            answers += await asyncio.gather(
                *(subscribe_expired(edge, large_id) for _ in range(READERS))
            )
        return answers

    answers, arrivals = await while_bob_streams(edge, flood)
    error = json.loads(answers[0])  # parsed once: parsing all would slow this process
    assert error["code"] == "events_expired" and error["job_id"] == large_id
    assert error["record"] == record  # the record GET /v1/jobs/{id} answers
    assert {answer for answer in answers} == {answers[0]}
    assert len(answers[0]) > 10_000_000
    assert_flowed(arrivals)


async def test_the_edge_declines_websocket_compression(stack: Stack) -> None:
    """Browsers always offer permessage-deflate; an edge that accepted it would compress every
    message in its event loop, a large `job-end` for seconds while other clients wait."""
    async with ws_connect(stack.edge()) as connection:
        assert connection.response.headers.get("Sec-WebSocket-Extensions") is None
