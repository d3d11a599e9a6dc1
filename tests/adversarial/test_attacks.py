"""Attacks found by the adversarial pass after the issue 9 work was merged, each run while a
second user streams a job: the attack is refused with a 4xx (or a WebSocket `error`), the
edge stays up, and the second user's job streams to `job-end` within its deadline."""

import asyncio
import contextlib
import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adversarial.inputs_support import edge_serves, victim_streaming, ws_ask
from tests.adversarial.rates_support import bucket_at_least, hang_up_mid_body
from tests.support.client import CHAT_INPUT, ws_connect
from tests.support.stack import LIFTED_LIMITS, Stack, auth
from tests.support.wait import async_wait_for

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


HEADER_MIB = 16
"""What the flooding attacker tries to make the edge buffer: a header of 16 MiB."""


async def _read_into(reader: asyncio.StreamReader, received: bytearray) -> None:
    """Everything the edge sends until it closes (a reset ends it too)."""
    with contextlib.suppress(OSError):
        while data := await reader.read(4096):
            received.extend(data)


async def _send_head(port: int, size: int) -> tuple[bool, bytes]:
    """Sends a request line and one header value of `size` bytes, never the head's end.
    Returns whether the edge closed the connection within 10 s of the last byte sent (or
    of its refusal), and what it answered (b"" when it reset the connection: it closes
    with unread bytes of the attacker's still in its socket)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()
    reading = asyncio.create_task(_read_into(reader, received))
    writer.write(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
    chunk = b"a" * (64 << 10)
    with contextlib.suppress(ConnectionError):
        for _ in range(size // len(chunk)):
            if reading.done():
                break
            writer.write(chunk)
            await writer.drain()
    done, _ = await asyncio.wait({reading}, timeout=10)
    reading.cancel()
    writer.close()
    return bool(done), bytes(received)


async def test_a_huge_request_head_is_refused_before_it_is_buffered(stack: Stack) -> None:
    """uvicorn's httptools parser buffers a request line and headers of any size: one socket
    made the edge hold ~100 MB in seconds, a few dozen would exhaust its memory. The head is
    now cut off at `EDGE_MAX_HEADER_BYTES` with 431 (the read deadline, lifted here, is not
    what stops it)."""
    edge = stack.edge(env={"EDGE_HEADER_TIMEOUT_SECONDS": "600"})
    stack.worker("slow")
    async with victim_streaming(edge):
        closed, answer = await _send_head(edge.port, 128 << 10)
        assert closed and answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == (
            "payload_too_large"
        )
        floods = [_send_head(edge.port, HEADER_MIB << 20) for _ in range(3)]
        for closed, answer in await asyncio.wait_for(asyncio.gather(*floods), 90):
            assert closed, "the edge kept reading a 16 MiB request head"
            assert not answer or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        big_cookie = {**auth(), "Cookie": "a=" + "b" * 30_000}  # a large, ordinary head
        assert httpx.get(f"{edge.url}/v1/models", headers=big_cookie).status_code == 200
    edge_serves(edge)


SHARED_KEY_KINDS = (
    *("jobs", "stats", "limits", "workers", "worker", "dead", "layout"),
    *("queue", "ready"),
)
"""Keys of a pool (per shard), a worker or the deployment: a fixed number however many
users come. A pool's queue state (`queue`: clocks, and counts of accounts that wait) and its
ready stream (one entry) stay; its waiting jobs (`wait`) and finish tags (`tags`, one member
per account served lately) go once nothing waits."""


async def test_every_key_a_users_submit_makes_expires(stack: Stack) -> None:
    """A guest (a new user at every cookie-less visit) submits one job and leaves; so does a
    keyed user. The index of the user's jobs had no TTL and was trimmed only by listing it:
    one key per guest forever, and an entry per job forever for a keyed user. Now every key
    a submit creates expires, and index entries past the listing horizon are dropped."""
    edge = stack.edge(env={"EDGE_GUEST_MODE": "true", "EDGE_EVENT_RETENTION_SECONDS": "60"})
    stack.worker("sim")
    stack.worker("slow")
    client = stack.redis()
    stale = "0" * 32
    client.zadd(stack.keys.user_jobs("alice"), {stale: time.time() - 10**6})
    async with victim_streaming(edge):
        for headers in ({}, auth()):  # a guest, then alice
            response = httpx.post(
                f"{edge.url}/v1/jobs", json={"model": "sim", "input": CHAT_INPUT}, headers=headers
            )
            assert response.status_code == 202, response.text
            record = stack.keys.job(response.json()["id"])
            await async_wait_for(partial(_ended, client, record), timeout=30)
    for key in client.scan_iter(f"{stack.prefix}*"):
        name = key[len(stack.prefix) :]
        if name.startswith("{"):  # a shard's hash tag
            name = name.partition("}:")[2]
        kind = name.partition(":")[0]
        if kind not in SHARED_KEY_KINDS:
            assert client.ttl(key) > 0, f"{key} never expires"
    assert client.zscore(stack.keys.user_jobs("alice"), stale) is None
    client.close()
    edge_serves(edge)


async def _ended(client: Any, key: str) -> bool:
    return bool(client.hget(key, "status") == "succeeded")


async def test_malformed_websocket_messages_pay_the_request_bucket(stack: Stack) -> None:
    """Each WebSocket message costs a token of its user's bucket, but one was charged only
    once it had parsed and validated: malformed messages (up to 1 MiB of JSON each, parsed
    on the event loop) were free and unlimited, and so was the parsing of messages the
    bucket then refused. The token is now taken first, as HTTP takes it before the body."""
    edge = stack.edge(env={"EDGE_RATE_LIMIT_PER_SECOND": "0.5", "EDGE_RATE_LIMIT_BURST": "5"})
    stack.worker("slow")
    padding = "x" * (256 << 10)
    malformed = [
        "{" + padding,  # not JSON
        json.dumps({"type": "nope", "pad": padding}),  # no such message
        json.dumps({"type": "ping", "pad": padding}),  # a field no message has
    ]
    async with victim_streaming(edge), ws_connect(edge) as connection:
        codes = [(await ws_ask(connection, malformed[index % 3]))["code"] for index in range(30)]
        assert "rate_limited" in codes, codes
        assert codes.count("rate_limited") >= 20, codes
        reply = await ws_ask(connection, '{"type": "ping", "ref": "p"}')
        assert reply["code"] == "rate_limited" and reply["ref"] == "p", reply
    edge_serves(edge)


async def _post_chunked(port: int, path: str, body: bytes) -> bytes:
    """POSTs a body in chunks (no Content-Length for the edge to check first), reading the
    answer while it writes: the edge answers before the body ends, then closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()
    reading = asyncio.create_task(_read_into(reader, received))
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
            f"{auth()['Authorization']}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    with contextlib.suppress(ConnectionError):
        for start in range(0, len(body), 16 << 10):
            if received or reading.done():
                break
            piece = body[start : start + (16 << 10)]
            writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    await asyncio.wait({reading}, timeout=30)
    reading.cancel()
    writer.close()
    return bytes(received)


async def test_a_chunked_body_over_the_limit_is_413(stack: Stack) -> None:
    """A body over `EDGE_MAX_BODY_BYTES` without a Content-Length (chunked) was cut off, but
    the framework took the cut for a parse error: 400 "There was an error parsing the body"
    instead of the documented 413 payload_too_large."""
    edge = stack.edge()
    stack.worker("slow")
    body = b'{"model": "sim", "input": {"texts": ["' + b"a" * (2 << 20) + b'"]}}'
    async with victim_streaming(edge):
        for path, openai in (("/v1/jobs", False), ("/v1/embeddings", True)):
            answer = await _post_chunked(edge.port, path, body)
            head, _, content = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
            error = json.loads(content)["error"]
            assert error["code"] == "payload_too_large", error
            assert ("type" in error) == openai, error
    edge_serves(edge)


async def test_odd_paths_of_the_web_app_are_not_5xx(stack: Stack, tmp_path: Path) -> None:
    """With the web app built (as `relayline up` serves it), a path holding a NUL byte was a
    500 (the file lookup raised ValueError), and a path longer than a file name may be was
    503 redis_unavailable (its OSError was taken for Redis's). Both get the app's page, like
    any client-side route."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>app</title>")
    edge = stack.edge(env={"EDGE_WEB_DIST": str(dist)})
    stack.worker("slow")
    async with victim_streaming(edge):
        for path in ["/a%00b", "/%00", "/" + "a" * 5000, "/x/" + "b" * 300 + "/c"]:
            response = httpx.get(f"{edge.url}{path}")
            assert response.status_code == 200, (path[:40], response.text[:200])
            assert "<title>app</title>" in response.text
    edge_serves(edge)


async def test_a_client_gone_before_its_body_came_is_not_an_error(stack: Stack) -> None:
    """A submit whose client hung up halfway through its body was a 500 with a traceback in
    the edge's log once the route read its body itself (`SubmitRoute`): now nothing."""
    edge = stack.edge(env={"EDGE_RATE_LIMIT_PER_SECOND": "0.01"})  # a token: 100 s of bucket
    stack.worker("slow")
    redis = stack.redis()
    try:
        seconds, microseconds = redis.time()
        since_ms = seconds * 1000 + microseconds // 1000
        async with victim_streaming(edge):
            for _ in range(20):
                await hang_up_mid_body(edge.port)
            # each hang-up, once the edge has read it, costs alice a token
            done = partial(
                bucket_at_least, redis, stack.keys.rate_user("alice"), since_ms + 20 * 100_000
            )
            await async_wait_for(done, what="the edge to have read every hang-up")
    finally:
        redis.close()
    edge_serves(edge)
    assert "Traceback" not in edge.log() and "ClientDisconnect" not in edge.log()


async def test_a_request_without_a_caller_is_refused_before_its_body_is_read(
    stack: Stack,
) -> None:
    """A route reads its body before it checks the caller (FastAPI parses a body before
    solving dependencies): a host without a key could make the edge read and parse
    megabytes, with no rate limit. Each request here announces a 0.5 MB body and sends
    none of it: its 401 can only come before the body."""
    edge = stack.edge()
    routes = [
        "/v1/jobs",
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/responses",
        "/v1/ui/chat",
        "/v1/tickets",
    ]
    # no key, a wrong key, and a valid key with one in the URL too (keys in URLs are refused)
    callers = [(None, ""), ("not-a-key", ""), ("alice-key", "?api_key=alice-key")]
    for path in routes:
        for key, query in callers:
            head = (
                f"POST {path}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 500000\r\n"
                + (f"Authorization: Bearer {key}\r\n" if key else "")
                + "\r\n"
            )
            reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
            try:
                writer.write(head.encode())
                status = await asyncio.wait_for(reader.readline(), timeout=10)
                assert status.startswith(b"HTTP/1.1 401"), (path, key, query, status)
                headers = await reader.readuntil(b"\r\n\r\n")
                length = int(headers.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                error = json.loads(await reader.readexactly(length))["error"]
                assert error["code"] == "unauthorized", (path, error)
            finally:
                writer.close()
    edge_serves(edge)
    assert "Traceback" not in edge.log()


async def test_a_thousand_keyless_requests_at_once_are_refused_while_another_user_streams(
    stack: Stack,
) -> None:
    """A thousand connections at once, each announcing a 0.5 MB body without a key (or with
    a wrong one) and sending none of it: every one gets its 401 before its body, the edge holds
    none of them, and Bob's job streams to its end meanwhile."""
    edge = stack.edge()
    stack.worker("slow")
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 500000\r\n{key}\r\n"
    )

    async def keyless(n: int) -> bytes:
        key = "Authorization: Bearer not-a-key\r\n" if n % 2 else ""
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
        try:
            writer.write(head.format(key=key).encode())
            return await reader.readline()
        finally:
            writer.close()

    async with victim_streaming(edge):
        statuses = await asyncio.wait_for(asyncio.gather(*(keyless(n) for n in range(1000))), 60)
    assert all(status.startswith(b"HTTP/1.1 401") for status in statuses), set(statuses)
    edge_serves(edge)
    assert "Traceback" not in edge.log()


async def test_a_thousand_large_bodies_at_once_from_one_user_keep_at_most_the_cap_waiting(
    stack: Stack,
) -> None:
    """Alice starts a thousand 100 KiB bodies at once and sends only their first KiB: at
    most `EDGE_MAX_LARGE_BODIES_PER_CLIENT` (16) of them wait in the edge; every other one
    gets `429 rate_limited` with `Retry-After` before the rest of it is read, and Bob's job
    streams to its end meanwhile. (Request limits lifted: the bodies' cap is what refuses.)"""
    edge = stack.edge(env={**LIFTED_LIMITS, "EDGE_BODY_TIMEOUT_SECONDS": "600"})
    stack.worker("slow")
    head = (
        (
            "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 << 10}\r\nAuthorization: Bearer alice-key\r\n\r\n"
        ).encode()
        + b'{"model": "sim", "input": '
        + b" " * 1000
    )
    answers: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def started() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
        writers.append(writer)
        writer.write(head)
        answer = await reader.readuntil(b"\r\n\r\n")
        length = int(answer.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        answers.append(answer + await reader.readexactly(length))

    async def refused() -> bool:
        return len(answers) >= 1000 - 16

    tasks: list[asyncio.Future[None]] = []
    try:
        async with victim_streaming(edge):
            tasks += [asyncio.ensure_future(started()) for _ in range(1000)]
            await async_wait_for(refused, 60, "the refusals")
            assert all(a.startswith(b"HTTP/1.1 429") for a in answers), answers[:2]
            assert all(b"retry-after: 1" in a.lower() and b"rate_limited" in a for a in answers)
            assert len(answers) == 1000 - 16  # the cap's 16 still wait for their bodies
    finally:
        for writer in writers:
            writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    edge_serves(edge)
    assert "Traceback" not in edge.log()
