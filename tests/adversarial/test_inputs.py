"""Attacks by one user through inputs (numbers past every bound, malformed text, seq
positions that name no event), each run while a second user streams a job: the attack is
refused with a 4xx (or a WebSocket `error`) and the second user's job streams to `job-end`."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from relayline.redis_server import start_redis
from tests.adversarial.inputs_support import (
    BOUNDS,
    CHAT_INPUT,
    MAX_SAFE,
    PAST_SEED,
    assert_4xx,
    assert_error,
    edge_serves,
    victim_streaming,
    ws_ask,
)
from tests.support.client import assert_complete, get_job, submit, ws_connect, ws_follow
from tests.support.stack import Stack, auth
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration


async def test_a_position_past_every_bound_never_stops_the_shared_reader(stack: Stack) -> None:
    """The attack of issue 9: `after` at 2^64 on one's own unfinished job, a second
    subscription to it open, the first dropped. Today's edge refuses the position; bob's job
    and alice's own second subscription both stream to the end."""
    edge = stack.edge()
    stack.worker("slow")
    own = submit(edge, model="slow", params={"max_tokens": 60})
    async with victim_streaming(edge), ws_connect(edge) as keeper:
        await keeper.send(json.dumps({"type": "subscribe", "job_id": own, "after": 0}))
        for after in [*BOUNDS, MAX_SAFE + 1, MAX_SAFE, 10**6]:
            async with ws_connect(edge) as attacker:
                message = json.dumps({"type": "subscribe", "job_id": own, "after": after})
                reply = await ws_ask(attacker, message)
                assert reply["type"] == "error", (after, reply)
                expected = "seq_out_of_range" if 0 <= after <= MAX_SAFE else "invalid_request"
                assert reply["code"] == expected, (after, reply)
        for after in BOUNDS:
            response = httpx.get(
                f"{edge.url}/v1/jobs/{own}/events", params={"after": after}, headers=auth()
            )
            assert_4xx(response)
            header = {**auth(), "Last-Event-ID": str(after)}
            assert_4xx(httpx.get(f"{edge.url}/v1/jobs/{own}/events", headers=header))
        own_events: list[dict[str, Any]] = []
        while not own_events or own_events[-1]["type"] != "job-end":
            message = json.loads(await asyncio.wait_for(keeper.recv(), 60))
            if message.get("job_id") == own and "seq" in message:
                own_events.append(message)
        assert_complete(own_events)
    edge_serves(edge)


async def test_unsubscribe_cancels_a_running_catch_up(stack: Stack) -> None:
    """Subscribe, unsubscribe and subscribe again while the first catch-up waits for room in
    a small queue: a catch-up left running would interleave its seqs with the new one's and
    the client would see a gap. The second subscription gets every event exactly once."""
    edge = stack.edge(env={"EDGE_CLIENT_QUEUE_SIZE": "16"})
    stack.worker("sim", env={"WORKER_COALESCE_MS": "0"})
    stack.worker("slow")  # bob's job: slow enough for his queue of 16 on a loaded machine
    job_id = submit(edge, model="sim", params={"max_tokens": 200})
    await async_wait_for(
        lambda: asyncio.to_thread(lambda: get_job(edge, job_id)["status"] == "succeeded"),
        timeout=60,
    )
    async with victim_streaming(edge, 20), ws_connect(edge) as connection:
        subscribe = json.dumps({"type": "subscribe", "job_id": job_id})
        for message in (subscribe, json.dumps({"type": "unsubscribe", "job_id": job_id})):
            await connection.send(message)
        await connection.send(subscribe)
        subscribed = 0
        events: list[dict[str, Any]] = []
        while not events or events[-1]["type"] != "job-end":
            message = json.loads(await asyncio.wait_for(connection.recv(), 30))
            subscribed += message.get("type") == "subscribed"
            if subscribed == 2 and "seq" in message:
                events.append(message)
        assert_complete(events)
        assert len(events) > 100
    edge_serves(edge)


def _last_event_ids() -> list[bytes]:
    return [
        "١٢".encode(),  # Arabic-Indic digits (UTF-8, read as Latin-1 by the server)
        "²".encode("latin-1"),  # a Latin-1 "digit" int() refuses
        b"9" * 5000,
        str(2**64).encode(),
        str(MAX_SAFE + 1).encode(),
        b"-1",
        b"1.5",
        b"nan",
        b"1 2",
    ]


async def test_malformed_http_inputs_get_a_4xx_while_another_user_streams(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("slow")
    own = submit(edge, model="slow", params={"max_tokens": 5})
    url = edge.url
    async with victim_streaming(edge):
        for value in _last_event_ids():
            key = auth()["Authorization"].encode()
            headers = [(b"Authorization", key), (b"Last-Event-ID", value)]
            response = httpx.get(f"{url}/v1/jobs/{own}/events", headers=headers)
            assert_error(response, 400, "invalid_request")
        for cursor in ["nan", "inf", "-inf", "-1", "1e400", "x"]:
            response = httpx.get(f"{url}/v1/jobs", params={"cursor": cursor}, headers=auth())
            assert_error(response, 422, "invalid_request")
        for limit in [*map(str, BOUNDS), "nan", "1.5"]:
            response = httpx.get(f"{url}/v1/jobs", params={"limit": limit}, headers=auth())
            assert_error(response, 422, "invalid_request")
        for path in [f"/v1/jobs/{'a' * 5000}", "/v1/jobs/..%2f..", f"/v1/jobs/{'f' * 32}x"]:
            assert_error(httpx.get(url + path, headers=auth()), 404)
        assert_error(
            httpx.get(f"{url}/v1/jobs/{'f' * 5000}/events", headers=auth()), 404, "job_not_found"
        )
        for body, status in _bad_jobs():
            response = httpx.post(
                f"{url}/v1/jobs",
                content=body,
                headers={**auth(), "Content-Type": "application/json"},
            )
            assert_error(response, status)
    edge_serves(edge)


def _bad_jobs() -> list[tuple[bytes, int]]:
    def job(**params: Any) -> bytes:
        return json.dumps({"model": "sim", "input": CHAT_INPUT, "params": params}).encode()

    bodies = [job(seed=value) for value in PAST_SEED]
    bodies += [job(max_tokens=value) for value in [*BOUNDS, 0, 32769]]
    bodies += [
        b'{"model": "sim", "input": {"messages": [{"role": "user", "content": "\\ud800"}]}}',
        b'{"model": "sim", "input": {"messages": [{"role": "user", "content": "a\\udfff"}]}}',
        b'{"model": "embed", "input": {"texts": ["\\ud83d"]}}',
        b'{"model": "sim\\ud800", "input": {}}',
        b'{"model": "sim", "input": {"messages": [{"role": "user", "content": "hi"}]},'
        b' "params": {"stop": ["\\udc00"]}}',
        b'{"model": "sim", "input": {"messages": [{"role": "user", "content": "hi"}]},'
        b' "idempotency_key": "\\ud800"}',
        job(temperature=float("nan")),
        job(temperature="NaN"),
        job(top_p=float("inf")),
        job(stop=["x" * 5000]),
        job(stop=[""]),
        job(stop=["a"] * 5),
        json.dumps({"model": "m" * 5000, "input": CHAT_INPUT}).encode(),
    ]
    return [(body, 422) for body in bodies]


async def test_malformed_openai_inputs_get_openai_4xx_errors(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("slow")
    url = edge.url
    messages = [{"role": "user", "content": "hi"}]
    chats: list[dict[str, Any]] = [
        {"model": "x" * 5000, "messages": messages},
        {"model": "sim", "messages": [{"role": "user", "content": "\ud800"}]},
        {"model": "sim", "messages": messages * 1001},
        {"model": "sim", "messages": messages, "user": "u" * 5000},
        {"model": "sim", "messages": messages, "stop": ["s" * 5000]},
    ]
    chats += [{"model": "sim", "messages": messages, "seed": value} for value in PAST_SEED]
    chats += [{"model": "sim", "messages": messages, "max_tokens": value} for value in BOUNDS]
    chats += [
        {"model": "sim", "messages": messages, "max_completion_tokens": value} for value in BOUNDS
    ]
    embeddings: list[dict[str, Any]] = [
        {"model": "y" * 5000, "input": "hi"},
        {"model": "embed", "input": "\udfff"},
        {"model": "embed", "input": ["a"] * 2049},
        {"model": "embed", "input": []},
    ]
    embeddings += [{"model": "embed", "input": "hi", "dimensions": value} for value in BOUNDS]
    async with victim_streaming(edge):
        for path, bodies in (("chat/completions", chats), ("embeddings", embeddings)):
            for body in bodies:
                content = json.dumps(body).encode("utf-8", "surrogatepass")
                response = httpx.post(
                    f"{url}/v1/{path}",
                    content=content,
                    headers={**auth(), "Content-Type": "application/json"},
                )
                assert response.status_code == 400, (path, str(body)[:200], response.text[:300])
                error = response.json()["error"]
                assert error["type"] == "invalid_request_error" and error["message"], error
    edge_serves(edge)


async def test_malformed_websocket_messages_get_errors_and_the_socket_goes_on(
    stack: Stack,
) -> None:
    edge = stack.edge()
    stack.worker("slow")
    own = submit(edge, model="slow", params={"max_tokens": 5})
    messages: list[str | bytes] = [
        b"\x00binary",
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"type": "ping", "ref": "r" * 5000}),
        '{"type": "ping", "ref": "\\ud800"}',
        '{"type": "\\ud800"}',
        json.dumps({"type": "x" * 100_000}),
        '{"type": {"nested": 1}}',
        '{"type": "subscribe", "job_id": "' + own + '", "after": NaN}',
        '{"type": "subscribe", "job_id": "' + own + '", "after": 1e400}',
        '{"type": "subscribe", "job_id": "' + own + '", "after": 1.5}',
        '{"type": "subscribe", "job_id": "' + own + '", "after": "' + "9" * 5000 + '"}',
        json.dumps({"type": "subscribe", "job_id": "f" * 5000}),
        json.dumps({"type": "submit", "request": {"model": "sim", "input": CHAT_INPUT, "x": 1}}),
        '{"type": "submit", "request": {"model": "sim", "input": {"messages": '
        '[{"role": "user", "content": "\\ud800"}]}}}',
    ]
    messages += [
        json.dumps(
            {
                "type": "submit",
                "request": {"model": "sim", "input": CHAT_INPUT, "params": {"seed": value}},
            }
        )
        for value in PAST_SEED
    ]
    async with victim_streaming(edge), ws_connect(edge, max_size=None) as connection:
        for message in messages:
            reply = await ws_ask(connection, message)
            assert reply["type"] == "error" and reply["code"], (str(message)[:100], reply)
        assert await ws_ask(connection, '{"type": "ping", "ref": "ok"}') == {
            "type": "pong",
            "ref": "ok",
        }
    edge_serves(edge)


def _expect_503(response: httpx.Response, openai: bool = False) -> None:
    assert response.status_code == 503, response.text[:300]
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "redis_unavailable", error
    if openai:
        assert error["type"] == "server_error"


async def test_redis_out_of_memory_or_unreachable_is_503_everywhere(
    stack: Stack, tmp_path: Path
) -> None:
    """A Redis of its own: full (maxmemory, noeviction) and then stopped."""
    server = start_redis(tmp_path / "redis", appendonly=False)
    try:
        stack.redis_url = server.url
        edge = stack.edge()
        stack.worker("sim")
        done = submit(edge, model="sim", params={"max_tokens": 3})
        assert_complete(await ws_follow(edge, done))
        client = stack.redis()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")
        try:
            await _all_routes_answer_503(edge.url, edge, done, writes_only=True)
        finally:
            client.config_set("maxmemory", "0")
            client.close()
    finally:
        server.stop()
    await _all_routes_answer_503(edge.url, edge, done, writes_only=False)
    response = httpx.get(f"{edge.url}/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]


async def _all_routes_answer_503(url: str, edge: Any, done: str, writes_only: bool) -> None:
    job = {"model": "sim", "input": CHAT_INPUT}
    _expect_503(httpx.post(f"{url}/v1/jobs", json=job, headers=auth(), timeout=30))
    chat = {"model": "sim", "messages": [{"role": "user", "content": "hi"}]}
    _expect_503(
        httpx.post(f"{url}/v1/chat/completions", json=chat, headers=auth(), timeout=30), True
    )
    embed = {"model": "embed", "input": "hi"}
    _expect_503(httpx.post(f"{url}/v1/embeddings", json=embed, headers=auth(), timeout=30), True)
    async with ws_connect(edge) as connection:
        reply = await ws_ask(connection, json.dumps({"type": "submit", "request": job}))
        assert reply["type"] == "error" and reply["code"] == "redis_unavailable", reply
        if not writes_only:
            reply = await ws_ask(connection, json.dumps({"type": "subscribe", "job_id": done}))
            assert reply["type"] == "error" and reply["code"] == "redis_unavailable", reply
        assert await ws_ask(connection, '{"type": "ping"}') == {"type": "pong", "ref": None}
    if writes_only:
        return
    for path in ["/v1/jobs", f"/v1/jobs/{done}", f"/v1/jobs/{done}/events", "/v1/models"]:
        _expect_503(httpx.get(url + path, headers=auth(), timeout=30))
    _expect_503(httpx.post(f"{url}/v1/jobs/{done}/cancel", headers=auth(), timeout=30))
