"""`edge.limits.BodyTurns`: one client's large bodies reach the app one per turn of the
event loop, other clients' work between them, with the garbage collector paused while a
body's parse runs."""

import asyncio
import gc
import itertools
import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from edge.limits import LARGE_BODY_BYTES, BodyLimitMiddleware, BodyTurns, TooManyBodies


async def _body(turns: BodyTurns, client: str, name: str, seen: list[str]) -> None:
    await turns.take(client)
    seen.append(name)  # the parse: what the app runs before its next wait
    await asyncio.sleep(0)  # its next wait (a trip to Redis)


async def _requests(name: str, steps: int, seen: list[str]) -> None:
    """Another client's small requests: a step in every turn of the loop."""
    for step in range(steps):
        seen.append(f"{name}{step}")
        await asyncio.sleep(0)


async def test_a_clients_large_bodies_let_other_clients_work_between_them() -> None:
    turns, seen = BodyTurns(), list[str]()
    await asyncio.gather(
        *(_body(turns, "alice", f"alice{n}", seen) for n in range(4)),
        _body(turns, "carol", "carol0", seen),
        _requests("bob", 8, seen),
    )
    alice = [index for index, name in enumerate(seen) if name.startswith("alice")]
    assert [seen[index] for index in alice] == ["alice0", "alice1", "alice2", "alice3"]
    # Between two of alice's bodies, bob's requests moved on: one parse of hers per turn.
    for before, after in itertools.pairwise(alice):
        assert any(name.startswith("bob") for name in seen[before + 1 : after]), seen
    # Another client's large body does not wait for alice's.
    assert seen.index("carol0") < alice[1], seen
    assert len(turns) == 0  # no entry left behind


async def test_the_collector_is_paused_only_while_a_body_is_parsed() -> None:
    turns, states = BodyTurns(), []

    async def body() -> None:
        await turns.take("alice")
        states.append(gc.isenabled())
        await asyncio.sleep(0)
        states.append(gc.isenabled())

    assert gc.isenabled()
    await asyncio.gather(body(), body())
    assert states == [False, True, False, True]
    assert gc.isenabled()


async def test_a_collector_the_operator_turned_off_stays_off() -> None:
    turns = BodyTurns()
    gc.disable()
    try:
        await turns.take("alice")
        await asyncio.sleep(0)
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_a_request_gone_while_it_waits_leaves_no_turn_behind() -> None:
    turns = BodyTurns()
    await turns.take("alice")  # holds the turn until the loop turns
    waiting = asyncio.create_task(turns.take("alice"))
    await asyncio.sleep(0)  # it waits for the turn...
    waiting.cancel()  # ...and its client hangs up
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.sleep(0)
    assert len(turns) == 0
    await turns.take("alice")  # a later body is not blocked by it
    await asyncio.sleep(0)
    assert len(turns) == 0


async def _through_middleware(scope: Scope, messages: list[Message]) -> list[bool]:
    """What the app saw: for each message it received, whether it came with a turn (the
    collector paused until the app waits next)."""
    pending, seen = list(messages), []

    async def receive() -> Message:
        return pending.pop(0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in messages:
            await receive()
            seen.append(not gc.isenabled())
            await asyncio.sleep(0)

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    await BodyLimitMiddleware(app, max_bytes=1 << 20, max_waiting=16)(scope, receive, send)
    return seen


async def test_the_last_piece_of_a_large_body_or_a_large_message_comes_with_a_turn() -> None:
    http: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/jobs",
        "headers": [],
        "client": None,
    }
    piece: Message = {
        "type": "http.request",
        "body": b"x" * (LARGE_BODY_BYTES // 2),
        "more_body": True,
    }
    last = {**piece, "more_body": False}
    assert await _through_middleware(http, [piece, piece, last]) == [False, False, True]
    short = {**last, "body": b"x" * (LARGE_BODY_BYTES - 1)}
    assert await _through_middleware(http, [short]) == [False]  # under the size
    ws: Scope = {"type": "websocket", "path": "/v1/ws", "headers": [], "client": ("10.0.0.1", 5)}
    large: Message = {"type": "websocket.receive", "text": "x" * LARGE_BODY_BYTES}
    small: Message = {"type": "websocket.receive", "bytes": b"x" * 100}
    assert await _through_middleware(ws, [small, large, small]) == [False, True, False]


async def test_a_client_may_have_so_many_large_bodies_in_line_and_is_refused_one_more() -> None:
    turns = BodyTurns()
    first, second = turns.enter("alice", 2), turns.enter("alice", 2)
    with pytest.raises(TooManyBodies):
        turns.enter("alice", 2)
    bob = turns.enter("bob", 2)  # another client's are not counted with hers
    second.leave()  # its request ended before the body's last piece came
    third = turns.enter("alice", 2)  # so there is room again
    await asyncio.gather(first.take(), third.take(), bob.take())
    for _ in range(100):  # the turns are given back in the next turns of the loop
        if len(turns) == 0:
            break
        await asyncio.sleep(0)
    assert len(turns) == 0


async def test_the_body_one_too_many_is_answered_429_before_the_rest_is_read() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass  # parsed in its turn, then the app's next wait:
        await asyncio.sleep(0)

    middleware = BodyLimitMiddleware(app, max_bytes=1 << 20, max_waiting=1)
    length = str(3 * LARGE_BODY_BYTES).encode()

    async def request() -> tuple[list[Message], int]:
        pieces: list[Message] = [
            {"type": "http.request", "body": b"x" * LARGE_BODY_BYTES, "more_body": more}
            for more in (True, True, False)
        ]
        sent: list[Message] = []

        async def receive() -> Message:
            await asyncio.sleep(0)  # each piece comes in a turn of the loop of its own
            return pieces.pop(0)

        async def send(message: Message) -> None:
            sent.append(message)

        scope: Scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/jobs",
            "headers": [(b"content-length", length)],
        }
        await middleware(scope, receive, send)
        return sent, len(pieces)

    (first, unread_first), (second, unread_second) = await asyncio.gather(request(), request())
    assert first == [] and unread_first == 0  # read whole, in its turn (this app answers nothing)
    assert unread_second == 2  # refused at its first piece: its length said it was large
    start, body = second
    assert start["status"] == 429
    assert (b"retry-after", b"1") in start["headers"]
    error = json.loads(body["body"])["error"]
    assert error["code"] == "rate_limited" and "at most 1 request bodies" in error["message"]
    assert len(middleware.turns) == 0
