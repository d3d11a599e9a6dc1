"""What uvicorn does not bound by itself: how long a client may take to send a request,
and how many connections one edge process holds.

uvicorn starts no timer on a new connection, and `timeout_keep_alive` only covers the idle
time between requests (any byte resets it), so a socket that never finishes its headers
stays open forever: ~20k of them exhaust the process's file descriptors. ASGI middleware
cannot help, it runs only once the headers are complete. `limit_concurrency` does not
either: it answers 503 (text/plain) after the headers came, never counts a socket that
sends none, and does not apply to WebSocket upgrades at all.

So the edge runs uvicorn's httptools protocol with two additions:

- a read deadline: the request line and headers must arrive within
  `EDGE_HEADER_TIMEOUT_SECONDS` of the connection (or of the first byte of the next request
  on a kept-alive one), then the body within `EDGE_BODY_TIMEOUT_SECONDS`; past it, the
  connection is closed. A WebSocket or a streaming response, once its request is read, is
  not affected.
- a size cap: a request line and headers larger than `EDGE_MAX_HEADER_BYTES` are answered
  `431` and the connection closed (httptools buffers a head of any size: one socket could
  make the edge hold hundreds of MB).
- a cap: a connection past `EDGE_MAX_CONNECTIONS` (HTTP and WebSocket together) is closed
  as soon as it is accepted, so its descriptor is freed at once; `fit_fd_limit` raises the
  process's descriptor limit to fit the cap, or lowers the cap to fit the limit.

And one for uvloop: its libuv accepts one connection per turn of the event loop (libuv pull
request 3696), so on a busy edge a new connection waits a turn for every connection queued
before it: one user's burst of connections, or a thousand browsers reconnecting after a
restart, kept every newcomer waiting for seconds. `Backlog` accepts the rest of the queue
whenever uvloop hands over a connection, as asyncio's own loop does.
"""

import asyncio
import json
import logging
import os
import resource
import socket
import time
from typing import Any

from prometheus_client import Counter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("relayline.edge")

CONNECTIONS_REFUSED = Counter(
    "relayline_connections_refused_total", "Connections closed at accept: the edge was full"
)
READ_TIMEOUTS = Counter(
    "relayline_read_timeouts_total", "Connections closed: a request was not sent in time"
)
HEADS_TOO_LARGE = Counter(
    "relayline_heads_too_large_total", "Requests refused: the request line and headers too large"
)
FD_RESERVE = 128
"""Descriptors kept for everything but client connections: the listening socket, logs,
files; the Redis pool's connections are added to it."""
WARN_EVERY_SECONDS = 10.0


def head_too_large(max_header_bytes: int) -> bytes:
    """The whole answer to a request whose line and headers are too large."""
    message = f"the request line and headers are larger than {max_header_bytes} bytes"
    body = json.dumps({"error": {"code": "payload_too_large", "message": message}}).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


ACCEPT_AT_ONCE = 256
"""Connections `Backlog` takes from one listening socket at a time, at most."""


class Backlog:
    """The connections queued on the edge's listening sockets, accepted together: when
    uvloop hands over one connection, `take` accepts the others waiting (up to
    `ACCEPT_AT_ONCE` per socket) and gives each a protocol of its own."""

    def __init__(self) -> None:
        self.listeners: list[socket.socket] = []
        self._starting: set[asyncio.Task[None]] = set()

    def listen_on(self, sockets: list[Any]) -> None:
        """The server's listening sockets, as uvicorn opened them (uvloop's stand-ins for
        them cannot accept: a duplicate of each descriptor does)."""
        for listening in sockets:
            listener = socket.socket(fileno=os.dup(listening.fileno()))
            listener.setblocking(False)
            self.listeners.append(listener)

    def close(self) -> None:
        """Before the server stops listening: a duplicate left open would keep the socket
        listening, and a client could connect to an edge that no longer accepts."""
        for listener in self.listeners:
            listener.close()
        self.listeners.clear()

    def take(self, loop: asyncio.AbstractEventLoop, protocol: Any, room: int) -> None:
        """Accept up to `room` connections (what the connection cap leaves: one past it
        would only be closed, its descriptor taken meanwhile)."""
        for listener in self.listeners:
            for _ in range(min(ACCEPT_AT_ONCE, room)):
                try:
                    connection, _ = listener.accept()
                except OSError:  # none left (or out of descriptors: uvloop's turn then)
                    break
                room -= 1
                connection.setblocking(False)
                task = loop.create_task(_serve(loop, protocol, connection))
                self._starting.add(task)
                task.add_done_callback(self._starting.discard)


async def _serve(loop: asyncio.AbstractEventLoop, protocol: Any, connection: socket.socket) -> None:
    try:
        await loop.connect_accepted_socket(protocol, connection)
    except OSError:  # the client is gone already
        connection.close()


def edge_http_protocol(
    max_connections: int,
    header_timeout: float,
    body_timeout: float,
    max_header_bytes: int = 64 << 10,
    backlog: Backlog | None = None,
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a read deadline, a cap on the size of a request's
    head and a connection cap; it takes the `backlog` of queued connections along with
    each one uvloop accepts."""
    warned_at = [0.0]
    too_large = head_too_large(max_header_bytes)

    class EdgeHttpProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _in_head = True  # reading a request line and headers (or waiting for the next)
        _head_bytes = 0
        _from_backlog = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                CONNECTIONS_REFUSED.inc()
                if time.monotonic() - warned_at[0] > WARN_EVERY_SECONDS:
                    warned_at[0] = time.monotonic()
                    log.warning("%d connections open: closing new ones", max_connections)
                transport.abort()
                return
            self._arm(header_timeout)
            if backlog is not None and not self._from_backlog:
                backlog.take(self.loop, self._sibling, max_connections - len(self.connections))

        def _sibling(self) -> "EdgeHttpProtocol":
            """The protocol of a connection taken from the backlog."""
            sibling = EdgeHttpProtocol(
                config=self.config,
                server_state=self.server_state,
                app_state=self.app_state,
                _loop=self.loop,
            )
            sibling._from_backlog = True
            return sibling

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            over = self._in_head and self._head_bytes > max_header_bytes
            if over and not self.transport.is_closing():
                HEADS_TOO_LARGE.inc()
                self.transport.write(too_large)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:  # the next request on a kept-alive connection
                self._arm(header_timeout)

        def on_headers_complete(self) -> None:
            self._in_head, self._head_bytes = False, 0
            self._disarm()
            super().on_headers_complete()
            if not (self.parser.should_upgrade() and self._should_upgrade()):
                self._arm(body_timeout)  # not a WebSocket: the body comes next

        def on_message_complete(self) -> None:
            self._in_head = True  # what comes next is the head of the next request
            self._disarm()
            super().on_message_complete()

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                READ_TIMEOUTS.inc()
                self.transport.close()

    return EdgeHttpProtocol


def fit_fd_limit(max_connections: int, reserve: int) -> int:
    """Raises the soft limit of open descriptors towards the hard one so `max_connections`
    plus `reserve` fit; returns the cap that fits (lower, with a warning, if they don't)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + reserve
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open file limit to %d: %s", target, exc)
    if soft >= wanted:
        return max_connections
    fitted = max(16, soft - reserve)
    log.warning(
        "EDGE_MAX_CONNECTIONS=%d does not fit the open file limit %d (%d kept for Redis and "
        "files): this edge takes %d connections; raise `ulimit -n`",
        max_connections,
        soft,
        reserve,
        fitted,
    )
    return fitted
