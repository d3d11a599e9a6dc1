"""Request bodies: a size limit, enforced before a body is read into memory, and turns: one
client's large bodies reach the app one at a time, other clients' requests between them."""

import asyncio
import gc
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.guards import client_of
from edge.refuse import deny

LARGE_BODY_BYTES = 16 << 10
"""A body (or WebSocket message) this long or longer waits for its client's turn
(`BodyTurns`). Parsing a shorter one costs at most a few milliseconds of CPU, which the
request rate bounds."""


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0
    """Bodies in line (being read, waiting for the turn or holding it): at 0 the client's
    entry is dropped."""


class BodyTurns:
    """A body's parse is CPU work on the edge's one event loop, the largest a client can ask
    for: a megabyte of JSON made of small arrays costs tens of milliseconds, and a client
    could send a hundred such bodies at once on kept-alive connections. Every other
    client's request would wait for all of them. So a client's large bodies take turns: a
    body `enter`s its client's line once it is known to be large, and its `Place.take`,
    called before its last piece is handed to the app, waits until the client's previous
    large body has been handed over, the app has run up to its next wait (the parse is in
    that run) and the loop has run what else was ready.

    While the app runs with a turn, Python's cyclic garbage collector is paused: a parse
    makes objects by the hundred thousand, none of them garbage yet, and the collections
    they set off walked the heap again and again (5x the parse's own CPU, measured).

    A client is the caller's account (`contracts.keys.account`), or its address while no
    caller is known. A body in line is held in memory: a client may have at most
    `max_waiting` in line (`EDGE_MAX_LARGE_BODIES_PER_CLIENT`); `enter` refuses one more
    with `TooManyBodies`, before the rest of it is read (a WebSocket's messages wait one
    at a time, and a user's WebSockets are capped: they pass no `max_waiting`)."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    def enter(self, client: str, max_waiting: int | None = None) -> "Place":
        """A large body of `client`'s is coming: its place among the client's bodies read
        or waiting, or `TooManyBodies` when `max_waiting` are (before the rest is read)."""
        turn = self._turns.get(client)
        if turn is None:
            turn = self._turns[client] = _Turn()
        elif max_waiting is not None and turn.holders >= max_waiting:
            raise TooManyBodies(max_waiting)
        turn.holders += 1
        return Place(self, client, turn)

    async def take(self, client: str) -> None:
        """A large WebSocket message: its turn (see `Place.take`)."""
        await self.enter(client).take()

    def _leave(self, client: str, turn: _Turn) -> None:
        turn.holders -= 1
        if not turn.holders:
            del self._turns[client]

    def __len__(self) -> int:
        """Clients with a large body being read, in hand, or waiting for their turn."""
        return len(self._turns)


@dataclass
class Place:
    """One large body's place in its client's line (`BodyTurns.enter`)."""

    turns: BodyTurns
    client: str
    turn: _Turn
    left: bool = False

    async def take(self) -> None:
        """Wait for the client's turn, then run with it until the caller's next wait."""
        try:
            await self.turn.lock.acquire()
        except BaseException:  # cancelled while waiting: the client has gone
            self.leave()
            raise
        paused = gc.isenabled()
        gc.disable()
        # The next turn of the loop: the caller's task has run up to its next wait.
        asyncio.get_running_loop().call_soon(self._give_back, paused)

    def _give_back(self, paused: bool) -> None:
        if paused:
            gc.enable()
        self.turn.lock.release()
        self.leave()

    def leave(self) -> None:
        """Out of the line: parsed, or its request ended before its last piece came."""
        if not self.left:
            self.left = True
            self.turns._leave(self.client, self.turn)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, max_waiting: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_waiting = max_waiting
        self.turns = BodyTurns()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, self._taking_turns(scope, receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = 0
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and value.isdigit():
                announced = int(value)
        if announced > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0
        place: Place | None = None  # a large body's, from when it is known to be large

        async def limited_receive() -> Message:
            nonlocal received, place
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
                if place is None and max(announced, received) >= LARGE_BODY_BYTES:
                    place = self.turns.enter(client_of(scope), self.max_waiting)
                if place is not None and not message.get("more_body"):
                    await place.take()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)
        except TooManyBodies as exc:  # raised elsewhere than in the app's body parsing
            headers = dict(exc.headers or {})
            await deny(scope, receive, send, 429, "rate_limited", str(exc.detail), headers)
        finally:
            if place is not None:  # (left already, once parsed: this is for a body cut short)
                place.leave()

    def _taking_turns(self, scope: Scope, receive: Receive) -> Receive:
        async def receive_in_turn() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text") or message.get("bytes") or ""
                if len(data) >= LARGE_BODY_BYTES:
                    await self.turns.take(client_of(scope))
            return message

        return receive_in_turn

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes"
        await deny(scope, receive, send, 413, "payload_too_large", message)


class TooManyBodies(HTTPException):
    """A client's large bodies waiting for its turn are at the cap: `429 rate_limited`, to
    try again in a second. An `HTTPException`, as `_TooLarge`: the app's handler answers it
    (a request it refuses still costs its token)."""

    def __init__(self, max_waiting: int) -> None:
        super().__init__(
            429,
            f"at most {max_waiting} request bodies of {LARGE_BODY_BYTES >> 10} KiB or more of "
            "yours wait to be read at a time: send fewer at once",
            headers={"Retry-After": "1"},
        )


class _TooLarge(HTTPException):
    """A body (without a Content-Length, or longer than it said) past the limit. An
    `HTTPException`, so the framework's body parsing passes it on instead of taking it for
    a parse error (400); the app's handler answers it (413 payload_too_large), and this
    middleware does when it is raised elsewhere."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
