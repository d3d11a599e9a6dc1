"""Request bodies: a size limit, enforced before a body is read into memory, and turns: one
client's large bodies reach the app one at a time, other clients' requests between them."""

import asyncio
import gc
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.errors import error_response, is_openai_path, openai_error
from edge.guards import client_of

LARGE_BODY_BYTES = 16 << 10
"""A body (or WebSocket message) this long or longer waits for its client's turn
(`BodyTurns`). Parsing a shorter one costs at most a few milliseconds of CPU, which the
request rate bounds."""


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0
    """Requests holding or waiting for the turn: at 0 the client's entry is dropped."""


class BodyTurns:
    """A body's parse is CPU work on the edge's one event loop, the largest a client can ask
    for: a megabyte of JSON made of small arrays costs tens of milliseconds, and a client
    could send a hundred such bodies at once on kept-alive connections. Every other
    client's request would wait for all of them. So a client's large bodies take turns:
    `take`, called before the last piece of a body is handed to the app, waits until the
    client's previous large body has been handed over, the app has run up to its next wait
    (the parse is in that run) and the loop has run what else was ready.

    While the app runs with a turn, Python's cyclic garbage collector is paused: a parse
    makes objects by the hundred thousand, none of them garbage yet, and the collections
    they set off walked the heap again and again (5x the parse's own CPU, measured).

    A client is the caller's account (`contracts.keys.account`), or its address while no
    caller is known."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    async def take(self, client: str) -> None:
        turn = self._turns.get(client)
        if turn is None:
            turn = self._turns[client] = _Turn()
        turn.holders += 1
        try:
            await turn.lock.acquire()
        except BaseException:  # cancelled while waiting: the client has gone
            self._leave(client, turn)
            raise
        paused = gc.isenabled()
        gc.disable()
        # The next turn of the loop: the caller's task has run up to its next wait.
        asyncio.get_running_loop().call_soon(self._give_back, client, turn, paused)

    def _give_back(self, client: str, turn: _Turn, paused: bool) -> None:
        if paused:
            gc.enable()
        turn.lock.release()
        self._leave(client, turn)

    def _leave(self, client: str, turn: _Turn) -> None:
        turn.holders -= 1
        if not turn.holders:
            del self._turns[client]

    def __len__(self) -> int:
        """Clients with a large body in hand or waiting for their turn."""
        return len(self._turns)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.turns = BodyTurns()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, self._taking_turns(scope, receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
                if received >= LARGE_BODY_BYTES and not message.get("more_body"):
                    await self.turns.take(client_of(scope))
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

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
        if is_openai_path(scope["path"]):
            response = openai_error(413, "payload_too_large", message)
        else:
            response = error_response(413, "payload_too_large", message)
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    """A body (without a Content-Length, or longer than it said) past the limit. An
    `HTTPException`, so the framework's body parsing passes it on instead of taking it for
    a parse error (400); the app's handler answers it (413 payload_too_large), and this
    middleware does when it is raised elsewhere."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
