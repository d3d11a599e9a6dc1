"""Overload: a queue past its cap, duplicate submits racing, a client that stops reading."""

import asyncio
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from contracts.errors import WS_CLOSE_SLOW_CONSUMER
from contracts.jobs import Priority
from tests.chaos.checker import check, follow
from tests.chaos.helpers import submit, worker
from tests.support.client import assert_complete, ws_connect, ws_follow
from tests.support.metrics import metric
from tests.support.stack import Edge, Stack, auth
from tests.support.wait import async_wait_for, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.solo]

BODY = {"model": "quick", "input": {"messages": [{"role": "user", "content": "hi"}]}}


def test_a_full_queue_answers_503_with_retry_after_and_takes_jobs_again_once_drained(
    chaos_stack: Stack,
) -> None:
    edge = chaos_stack.edge(env={"EDGE_MAX_QUEUED_PER_POOL": "3"})
    accepted = [submit(edge, "quick") for _ in range(3)]  # no worker yet: they wait
    refused = httpx.post(f"{edge.url}/v1/jobs", json=BODY, headers=auth())
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "queue_full"
    assert httpx.get(f"{edge.url}/v1/jobs", headers=auth()).json()["data"][0]["id"] == accepted[-1]

    worker(chaos_stack, "quick")
    for job_id in accepted:
        transcript = asyncio.run(follow([edge], job_id))
        check(transcript)
    # Drained (and trimmed by the reaper): submits are taken again.
    later = asyncio.run(follow([edge], _submit_when_accepted(edge)))
    check(later)


def _submit_when_accepted(edge: Edge) -> str:
    def attempt() -> str | None:
        response = httpx.post(f"{edge.url}/v1/jobs", json=BODY, headers=auth())
        return str(response.json()["id"]) if response.status_code == 202 else None

    job_id = wait_for(attempt, timeout=30, what="the drained queue to accept a job")
    assert job_id is not None
    return job_id


def test_duplicate_submits_racing_with_one_idempotency_key_make_one_job(
    chaos_stack: Stack,
) -> None:
    edge = chaos_stack.edge()

    def send(user: str) -> str:
        headers = {**auth(user), "Idempotency-Key": "order-42"}
        response = httpx.post(f"{edge.url}/v1/jobs", json=BODY, headers=headers, timeout=30)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(send, ["alice"] * 24))
        other = pool.submit(send, "bob").result()
    assert len(set(ids)) == 1
    assert other != ids[0]  # keys are per user
    client = chaos_stack.redis()
    keys = chaos_stack.keys  # jobs wait in their pool's queues until a worker takes them
    queues = [keys.waiting("quick", shard, p) for shard in range(keys.shards) for p in Priority]
    assert sum(client.zcard(queue) for queue in queues) == 2


async def test_a_client_that_stops_reading_is_cut_off_and_others_are_not_slowed(
    chaos_stack: Stack, tmp_path: Path
) -> None:
    edge = chaos_stack.edge(env={"EDGE_CLIENT_QUEUE_SIZE": "16"})
    await asyncio.to_thread(worker, chaos_stack, "quick")
    rss_before = _rss_kib(edge)
    flood = submit(edge, "flood")  # no flood worker yet: the job waits
    # A client that reads one message, then stops, with a small receive buffer. The flood
    # (about 6 MB of events) is larger than all the buffers between the edge and the client
    # together (the kernel lets the edge's send buffer grow to 4 MiB), so it must be cut off.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", edge.port))
    async with ws_connect(edge, max_queue=1, sock=sock) as stalled:
        await stalled.send(json.dumps({"type": "subscribe", "job_id": flood}))
        # Its first event means the edge follows the job for it: every event of the flood
        # reaches its queue live (a job that had ended before would be a paced catch-up).
        assert json.loads(await stalled.recv())["type"] == "subscribed"
        assert json.loads(await stalled.recv())["type"] == "job-queued"
        await asyncio.to_thread(worker, chaos_stack, "flood", WORKER_COALESCE_MS="0")
        await async_wait_for(
            lambda: asyncio.to_thread(metric, edge, "relayline_slow_clients_total"),
            timeout=60,
            what="the stalled client to be cut off",
        )
        # Another client on the same edge, during the flood, gets its job in full.
        assert_complete(await ws_follow(edge, submit(edge, "quick")))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await stalled.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == WS_CLOSE_SLOW_CONSUMER
    assert _rss_kib(edge) - rss_before < 40 * 1024, "the edge buffered the stalled client"


def _rss_kib(edge: Edge) -> int:
    for line in Path(f"/proc/{edge.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_user_at_the_limit_of_unfinished_jobs_gets_429_and_others_go_on(
    chaos_stack: Stack,
) -> None:
    edge = chaos_stack.edge(env={"EDGE_MAX_ACTIVE_JOBS_PER_USER": "2"})
    first, second = submit(edge, "quick"), submit(edge, "quick")  # no worker yet: both wait
    refused = httpx.post(f"{edge.url}/v1/jobs", json=BODY, headers=auth("alice"))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert httpx.post(f"{edge.url}/v1/jobs", json=BODY, headers=auth("bob")).status_code == 202

    # A job that ends (here by a cancel) gives its place back.
    assert httpx.post(f"{edge.url}/v1/jobs/{first}/cancel", headers=auth()).status_code == 202
    third = submit(edge, "quick")
    worker(chaos_stack, "quick")
    for job_id in (second, third):
        check(asyncio.run(follow([edge], job_id)))
    client = chaos_stack.redis()
    assert client.get(chaos_stack.keys.user_active("alice")) is None  # every job ended
    for _ in range(2):  # the limit's places are all free again (submit asserts the 202)
        submit(edge, "quick")
