"""`edge.protocol.Backlog`: on uvloop, whose libuv accepts one connection per turn of the
event loop, the edge's protocol takes every other queued connection when it is handed one.
Counted in turns of a busy loop, not in time."""

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from edge.protocol import Backlog, edge_http_protocol

CLIENTS = 40


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("no request is sent")


def _busy_turns() -> tuple[list[int], Callable[[], None]]:
    """A callback that runs once in every turn of the loop and takes a while, as requests
    do on a loaded edge; `turns[0]`: how many turns have run."""
    turns = [0]

    def turn() -> None:
        turns[0] += 1
        time.sleep(0.005)
        asyncio.get_running_loop().call_soon(turn)

    return turns, turn


def _turns_to_accept(backlog: Backlog | None) -> int:
    """Turns of a busy loop until `CLIENTS` connections that came at once are all made."""

    async def main() -> int:
        config = uvicorn.Config(_app, http=edge_http_protocol(1000, 30, 30, backlog=backlog))
        config.load()
        state = ServerState()
        protocol = config.http_protocol_class

        def factory() -> asyncio.Protocol:
            return protocol(config=config, server_state=state, app_state={})  # type: ignore[call-arg]

        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", 0, backlog=1024)
        if backlog is not None:
            backlog.listen_on(list(server.sockets))
        port = server.sockets[0].getsockname()[1]
        turns, turn = _busy_turns()
        loop.call_soon(turn)
        clients: list[socket.socket] = []
        connecting = threading.Thread(
            target=lambda: clients.extend(
                socket.create_connection(("127.0.0.1", port)) for _ in range(CLIENTS)
            )
        )
        connecting.start()
        await _until(lambda: len(clients) == CLIENTS)  # all queued (the kernel completes them)
        first = turns[0]
        await _until(lambda: len(state.connections) == CLIENTS)
        taken = turns[0] - first
        for made in state.connections:  # served as uvloop's own: the client's address known,
            assert isinstance(made, HttpToolsProtocol)  # and no Nagle delay on answers
            peer = made.transport.get_extra_info("socket")
            assert made.client == peer.getpeername()
            assert peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        for client in clients:
            client.close()
        if backlog is not None:
            backlog.close()
        server.close()
        return taken

    return uvloop.run(main())


async def _until(condition: Callable[[], bool], deadline: float = 30.0) -> None:
    ends = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < ends, "timed out"
        await asyncio.sleep(0)


def test_uvloop_alone_accepts_one_connection_per_turn() -> None:
    # What the backlog is for; if uvloop changes, this says so.
    assert _turns_to_accept(None) >= CLIENTS // 2


def test_the_edge_takes_the_queued_connections_together() -> None:
    assert _turns_to_accept(Backlog()) <= 8  # a few turns: accepted, then made


def test_a_closed_backlog_lets_go_of_the_listening_socket() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        backlog = Backlog()
        backlog.listen_on(list(server.sockets))
        backlog.close()
        server.close()
        await server.wait_closed()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except ConnectionRefusedError:
            return
        raise AssertionError("the port still listens")

    uvloop.run(main())


def test_the_backlog_takes_no_more_than_the_connection_cap_leaves() -> None:
    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        listening = socket.create_server(("127.0.0.1", 0), backlog=64)
        clients = [socket.create_connection(listening.getsockname()) for _ in range(10)]
        made: list[asyncio.Transport] = []

        class Made(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                made.append(transport)  # type: ignore[arg-type]

        backlog = Backlog()
        backlog.listen_on([listening])
        backlog.take(loop, Made, room=3)
        await _until(lambda: len(made) == 3)
        taken = len(made)
        backlog.close()
        listening.setblocking(False)
        left = 0  # the others wait in the queue: never accepted, so never made
        while True:
            try:
                listening.accept()[0].close()
            except BlockingIOError:
                break
            left += 1
        for transport in made:
            transport.close()
        for client in clients:
            client.close()
        listening.close()
        return taken, left

    assert uvloop.run(main()) == (3, 7)
