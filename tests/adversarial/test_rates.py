"""Connections and rates: one user's flood is refused with its own code, and a second
user's job streams to `job-end` meanwhile (issue 9, point 3). Real edge and worker
processes, real Redis; limits lowered in each stack so the floods stay small."""

import asyncio
import contextlib
import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from redis import Redis
from redis.cluster import RedisCluster
from websockets.asyncio.client import connect

from contracts.errors import WS_CLOSE_TOO_MANY, WS_CLOSE_TRY_AGAIN_LATER
from contracts.pools import load_pools
from relayline.redis_server import start_redis
from tests.adversarial.rates_support import (
    bucket_at_least,
    closed_by_server,
    hang_up_mid_body,
    victim_streaming,
)
from tests.support.client import CHAT_INPUT, refused_close, submit, ws_connect
from tests.support.metrics import metric
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration


def _guest_ws(edge: Edge, headers: dict[str, str] | None = None) -> Any:
    """A WebSocket without a key: a guest, by its cookie if `headers` carry one."""
    return connect(edge.ws_url, additional_headers=headers or {}, open_timeout=10)


def _script_calls(redis: Any) -> int:
    """Script calls Redis has run (every master's, on a Cluster)."""
    if isinstance(redis, RedisCluster):
        by_node = redis.info("commandstats", target_nodes=RedisCluster.ALL_NODES)
        infos = list(by_node.values())
    else:
        infos = [redis.info("commandstats")]
    return sum(int(info.get("cmdstat_evalsha", {}).get("calls", 0)) for info in infos)


async def _pong(connection: Any) -> dict[str, Any]:
    await connection.send(json.dumps({"type": "ping", "ref": "p"}))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), 10))
    return reply


async def test_a_user_over_its_stream_cap_is_refused(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_MAX_STREAMS_PER_USER": "6"})
    stack.worker("slow")
    job_id = submit(edge, model="slow", user="alice", params={"max_tokens": 1})
    async with victim_streaming(edge), contextlib.AsyncExitStack() as held:
        sockets = [await held.enter_async_context(ws_connect(edge)) for _ in range(6)]
        assert (await _pong(sockets[-1]))["type"] == "pong"

        code, reason = await refused_close(ws_connect(edge))
        assert code == WS_CLOSE_TOO_MANY and reason.startswith("too_many_connections")
        url = f"{edge.url}/v1/jobs/{job_id}/events"
        async with httpx.AsyncClient(timeout=10) as client:
            sse = await client.get(url, headers=auth())
            assert sse.status_code == 429
            assert sse.json()["error"]["code"] == "too_many_connections"
            assert int(sse.headers["Retry-After"]) >= 1

        await sockets.pop().close()  # a slot is free again once one closes
        async with ws_connect(edge) as again:
            assert (await _pong(again))["type"] == "pong"


async def test_a_full_edge_refuses_new_streams_with_try_again_later(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_MAX_STREAMS": "4"})
    stack.worker("slow")
    async with victim_streaming(edge), contextlib.AsyncExitStack() as held:
        for _ in range(3):  # with the victim's: 4 open streams, the edge's most
            await held.enter_async_context(ws_connect(edge))
        code, reason = await refused_close(ws_connect(edge))
        assert code == WS_CLOSE_TRY_AGAIN_LATER and reason.startswith("edge_full")
        async with httpx.AsyncClient(timeout=10) as client:
            sse = await client.get(f"{edge.url}/v1/jobs/x/events", headers=auth())
        assert sse.status_code == 503 and sse.json()["error"]["code"] == "edge_full"


async def _trickle(writer: asyncio.StreamWriter) -> None:
    """A slow-loris client: a header byte every 0.2 s, never the end of the headers."""
    writer.write(b"GET /v1/models HTTP/1.1\r\nHost: edge\r\n")
    with contextlib.suppress(OSError):
        while not writer.is_closing():
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.2)  # the attacker's pace, not a synchronisation


SLOW_BODY = (
    b"POST /v1/jobs HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n{"
)


def _open_fds(edge: Edge) -> int:
    return len(os.listdir(f"/proc/{edge.popen.pid}/fd"))


async def test_idle_sockets_slow_headers_and_slow_bodies_are_capped_and_closed(
    stack: Stack,
) -> None:
    cap, timeout = 100, 4.0
    edge = stack.edge(
        env={
            "EDGE_MAX_CONNECTIONS": str(cap),
            "EDGE_HEADER_TIMEOUT_SECONDS": str(timeout),
            "EDGE_BODY_TIMEOUT_SECONDS": str(timeout),
        }
    )
    stack.worker("slow")
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    trickling: list[asyncio.Task[None]] = []
    try:
        async with victim_streaming(edge):
            # counted while the victim streams: its socket, and the Redis connections of
            # the fan-out reader of its job's shard, are the edge's own
            baseline = _open_fds(edge)
            for index in range(300):  # no key, no headers: nobody needs one to do this
                reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
                opened.append((reader, writer))
                if index % 30 == 0:
                    trickling.append(asyncio.create_task(_trickle(writer)))
                elif index % 30 == 1:  # headers at once, then a body that never comes
                    writer.write(SLOW_BODY)

            async def capped() -> bool:  # the cap held: fds stay bounded
                return _open_fds(edge) <= baseline + cap

            # A socket accepted past the cap is closed a turn of the edge's loop later, so one
            # count may catch it open; without the cap, 300 stay open until the read timeout.
            await async_wait_for(capped, timeout=timeout / 2, what="the edge's fds at the cap")
            closed = await asyncio.gather(
                *(closed_by_server(reader, timeout + 20) for reader, _ in opened)
            )
            assert all(closed), f"{closed.count(False)} idle sockets are still open"
    finally:
        for task in trickling:
            task.cancel()
        for _, writer in opened:
            writer.close()
    assert metric(edge, "relayline_connections_refused_total") > 0
    assert metric(edge, "relayline_read_timeouts_total") > 0
    assert httpx.get(f"{edge.url}/v1/models", headers=auth(), timeout=10).status_code == 200


async def test_a_request_flood_is_refused_with_retry_after(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_RATE_LIMIT_BURST": "20", "EDGE_RATE_LIMIT_PER_SECOND": "0.5"})
    stack.worker("slow")
    async with victim_streaming(edge), ws_connect(edge) as socket:
        async with httpx.AsyncClient(timeout=10, headers=auth()) as client:
            statuses = [(await client.get(f"{edge.url}/v1/jobs")).status_code for _ in range(40)]
            assert 429 in statuses and statuses.count(200) < 30, statuses
            refused = await client.get(f"{edge.url}/v1/jobs")
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limited"
            assert int(refused.headers["Retry-After"]) >= 1

            body = {"model": "slow", "messages": CHAT_INPUT["messages"]}
            openai = await client.post(f"{edge.url}/v1/chat/completions", json=body)
            assert openai.status_code == 429
            assert openai.json()["error"]["type"] == "rate_limit_error"
            assert openai.headers["x-ratelimit-limit-requests"] == "20"
            assert openai.headers["x-ratelimit-remaining-requests"] == "0"
            assert openai.headers["x-ratelimit-reset-requests"].endswith("s")

            bob = await client.get(f"{edge.url}/v1/jobs", headers=auth("bob"))
            assert bob.status_code == 200  # a bucket per user
        reply = await _pong(socket)  # WebSocket messages draw on the same bucket
        assert reply["type"] == "error" and reply["code"] == "rate_limited"
        assert reply["ref"] == "p"
        code, reason = await refused_close(ws_connect(edge))  # and handshakes
        assert code == WS_CLOSE_TOO_MANY and reason.startswith("rate_limited")


async def test_openai_routes_report_the_bucket_and_a_service_tier_raises_it(
    stack: Stack,
) -> None:
    edge = stack.edge(env={"EDGE_RATE_LIMIT_BURST": "50", "EDGE_USER_TIERS": "bob:service"})
    body = {"model": "no-such-model", "messages": CHAT_INPUT["messages"]}
    response = httpx.post(f"{edge.url}/v1/chat/completions", json=body, headers=auth(), timeout=10)
    assert response.status_code == 404  # refused by the route, counted all the same
    assert response.headers["x-ratelimit-limit-requests"] == "50"
    assert int(response.headers["x-ratelimit-remaining-requests"]) == 49
    assert response.headers["x-ratelimit-reset-requests"].endswith("s")
    service = httpx.post(
        f"{edge.url}/v1/chat/completions", json=body, headers=auth("bob"), timeout=10
    )
    assert service.headers["x-ratelimit-limit-requests"] == "5000"  # the `service` tier


async def test_guest_ids_are_limited_per_address_and_guests_get_lower_limits(
    stack: Stack,
) -> None:
    edge = stack.edge(
        env={
            "EDGE_GUEST_MODE": "true",
            "EDGE_GUEST_IDS_BURST": "5",
            "EDGE_GUEST_IDS_PER_MINUTE": "0.5",
            # shared by the guests of the address: the 5 minted below and the one going on
            "EDGE_GUEST_RATE_LIMIT_BURST": "16",
            "EDGE_GUEST_RATE_LIMIT_PER_SECOND": "0.5",
            "EDGE_GUEST_MAX_STREAMS_PER_USER": "2",
            "EDGE_GUEST_MAX_ACTIVE_JOBS_PER_USER": "2",
        }
    )
    stack.worker("slow")
    async with victim_streaming(edge), httpx.AsyncClient(timeout=10) as client:
        minted: list[httpx.Response] = []
        for _ in range(12):  # a client that drops its cookie: a new guest each time
            client.cookies.clear()
            minted.append(await client.get(f"{edge.url}/v1/jobs"))
        statuses = [response.status_code for response in minted]
        assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}, statuses
        assert minted[-1].json()["error"]["code"] == "too_many_guests"
        assert int(minted[-1].headers["Retry-After"]) >= 1
        code, reason = await refused_close(_guest_ws(edge))
        assert code == WS_CLOSE_TOO_MANY and reason.startswith("too_many_guests")
        guest = minted[0].cookies["rl_guest"]
        cookie = {"Cookie": f"rl_guest={guest}"}

        # A guest that keeps its cookie goes on, with a guest's lower limits.
        body = {"model": "sim", "input": CHAT_INPUT}  # no sim worker: the jobs stay queued
        url = f"{edge.url}/v1/jobs"
        submits = [
            (await client.post(url, json=body, headers=cookie)).status_code for _ in range(3)
        ]
        assert submits == [202, 202, 429], submits
        async with contextlib.AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(_guest_ws(edge, cookie))
            code, reason = await refused_close(_guest_ws(edge, cookie))
            assert code == WS_CLOSE_TOO_MANY and reason.startswith("too_many_connections")
        statuses = [
            (await client.get(f"{edge.url}/v1/jobs", headers=cookie)).status_code for _ in range(20)
        ]
        assert 429 in statuses, statuses
        keyed = [
            (await client.get(f"{edge.url}/v1/jobs", headers=auth())).status_code for _ in range(10)
        ]
        assert keyed == [200] * 10


@pytest.mark.on_cluster_too  # the bucket and the job's keys share one slot
async def test_every_websocket_message_takes_one_token_a_submit_in_its_script(
    stack: Stack,
) -> None:
    """A `submit`'s token is taken by the script that queues its job: exactly one, also for a
    submit refused before it (an unknown model) and for a malformed message; a refused
    submit queues nothing."""
    edge = stack.edge(env={"EDGE_RATE_LIMIT_BURST": "5", "EDGE_RATE_LIMIT_PER_SECOND": "0.01"})
    redis = stack.redis()

    async def ask(connection: Any, message: dict[str, Any] | str) -> dict[str, Any]:
        text = message if isinstance(message, str) else json.dumps(message)
        await connection.send(text)
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), 10))
        return reply

    def submit_message(model: str, ref: str) -> dict[str, Any]:
        request = {"model": model, "input": CHAT_INPUT}
        return {"type": "submit", "ref": ref, "request": request, "subscribe": False}

    try:
        async with ws_connect(edge) as socket:  # the handshake: token 1
            first = await ask(socket, submit_message("sim", "a"))  # 2
            assert first["type"] == "submitted", first
            unknown = await ask(socket, submit_message("no-such-model", "b"))  # 3
            assert unknown["type"] == "error" and unknown["code"] != "rate_limited", unknown
            malformed = await ask(socket, "{not json")  # 4
            assert malformed["code"] == "invalid_json", malformed
            second = await ask(socket, submit_message("sim", "c"))  # 5: the bucket is empty now
            assert second["type"] == "submitted", second

            refused = await ask(socket, submit_message("sim", "d"))
            assert refused == {**refused, "type": "error", "code": "rate_limited", "ref": "d"}
            assert redis.zcard(stack.keys.user_jobs("alice")) == 2  # the refused one queued nothing
            for message in (submit_message("no-such-model", "e"), "{not json", {"type": "ping"}):
                assert (await ask(socket, message))["code"] == "rate_limited", message
            # The bucket cannot allow one more for 100 s: a flood meanwhile, over the socket and
            # over HTTP, is refused by the edge alone, never parsed, and costs Redis nothing.
            scripts_before = _script_calls(redis)
            for n in range(100):
                reply = await ask(socket, {"type": "ping", "ref": f"r{n}"})
                assert reply["code"] == "rate_limited" and reply["ref"] == f"r{n}", reply
            async with httpx.AsyncClient(timeout=10, headers=auth()) as client:
                for _ in range(100):
                    refused_http = await client.get(f"{edge.url}/v1/jobs")
                    assert refused_http.status_code == 429
                    assert 90 <= int(refused_http.headers["Retry-After"]) <= 100
            assert _script_calls(redis) - scripts_before < 10
        async with ws_connect(edge, "bob") as socket:  # a bucket per user
            assert (await ask(socket, submit_message("sim", "f")))["type"] == "submitted"
    finally:
        redis.close()


async def test_every_http_submit_takes_one_token_in_its_script(stack: Stack) -> None:
    """`POST /v1/jobs` takes its token in the script that queues its job: one script call
    per job, and exactly one token also for a submit refused before it (an unknown model, a
    body that is not JSON, a field at fault, a body too large by its Content-Length) and for
    a client gone before its body came; a refused submit queues nothing, and a flood while
    the bucket is empty costs Redis nothing."""
    edge = stack.edge(env={"EDGE_RATE_LIMIT_BURST": "7", "EDGE_RATE_LIMIT_PER_SECOND": "0.01"})
    redis = stack.redis()
    job = {"model": "sim", "input": CHAT_INPUT}
    bucket = stack.keys.rate_user("alice")
    try:
        async with httpx.AsyncClient(base_url=edge.url, timeout=10, headers=auth()) as client:

            async def post(body: dict[str, Any] | str | bytes) -> httpx.Response:
                content = body if isinstance(body, str | bytes) else json.dumps(body)
                return await client.post(
                    "/v1/jobs", content=content, headers={"Content-Type": "application/json"}
                )

            warm = await client.post("/v1/jobs", json=job, headers=auth("bob"))
            assert warm.status_code == 202  # (Redis holds the scripts now)
            scripts_before = _script_calls(redis)
            first = await post(job)  # token 1
            assert first.status_code == 202, first.text
            assert _script_calls(redis) - scripts_before == 1  # `SUBMIT` alone
            assert (await post({**job, "model": "no-such-model"})).status_code == 404  # 2
            assert (await post("{not json")).status_code == 400  # 3
            assert (await post({"model": "sim"})).status_code == 422  # 4
            assert (await post(b"x" * (2 << 20))).status_code == 413  # 5, by its length
            before_hang_up = float(redis.get(bucket) or 0)
            await hang_up_mid_body(edge.port)  # 6
            await async_wait_for(
                partial(bucket_at_least, redis, bucket, before_hang_up + 1),
                what="the hang-up's token",
            )
            assert (await post(job)).status_code == 202  # 7: the bucket is empty now

            refused = await post(job)
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
            assert 90 <= int(refused.headers["Retry-After"]) <= 100
            assert redis.zcard(stack.keys.user_jobs("alice")) == 2  # the refused one queued nothing
            scripts_before = _script_calls(redis)
            bodies: list[dict[str, Any] | str] = [job, {**job, "model": "nope"}, "{not json"]
            for body in bodies * 30:
                assert (await post(body)).status_code == 429, body
            assert _script_calls(redis) - scripts_before < 10
            bob = await client.post("/v1/jobs", json=job, headers=auth("bob"))
            assert bob.status_code == 202  # a bucket per user
    finally:
        redis.close()


async def test_a_flood_of_model_lists_reads_the_pools_once_a_second(tmp_path: Path) -> None:
    # `GET /v1/models` reads every pool's queues and job streams on every shard; a hundred at
    # once from one user must not make a hundred such reads (a Redis of its own: the count
    # of `XINFO GROUPS` is the server's).
    server = start_redis(tmp_path / "redis", appendonly=False)
    stack = Stack(server.url, tmp_path)
    redis = Redis.from_url(server.url)
    try:
        edge = stack.edge(env=LIFTED_LIMITS)
        one_read = len(load_pools(stack.pools_file).pools) * stack.keys.shards
        before = _xinfo_groups_calls(redis)
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=30, headers=auth()) as client:
            answers = await asyncio.gather(
                *(client.get(f"{edge.url}/v1/models") for _ in range(100))
            )
        seconds = time.monotonic() - began
        assert {answer.status_code for answer in answers} == {200}
        assert len({answer.text for answer in answers}) <= 1 + int(seconds)
        reads = (_xinfo_groups_calls(redis) - before) / one_read
        assert 1 <= reads <= 1 + int(seconds), (reads, seconds)
    finally:
        redis.close()
        stack.close()
        server.stop()


def _xinfo_groups_calls(redis: Redis) -> int:
    stats = cast(dict[str, dict[str, int]], redis.info("commandstats"))
    return int(stats.get("cmdstat_xinfo|groups", {}).get("calls", 0))
