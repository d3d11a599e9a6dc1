"""Open streams (WebSocket and SSE) of this edge process, counted in memory per user (per
account: all guests of one client address count as one, see `contracts.keys.account`).

The caps are per edge, not global: what they protect is this process (its file
descriptors, its memory, its fan-out queues), an edge that dies takes its counts with it
(a count in Redis would leak on a crash, cost a round trip per connect and stop every
connect while Redis is down), and a user spread over N edges holds at most N times the cap,
a bound the operator sets by the number of edges. The rate of opening connections is
global: every handshake costs a token of the user's bucket in Redis (`edge.ratelimit`).
"""

import re
from urllib.parse import parse_qsl

from prometheus_client import Counter, Gauge
from starlette.types import Scope

from contracts.errors import WS_CLOSE_TOO_MANY, WS_CLOSE_TRY_AGAIN_LATER, ErrorCode
from contracts.keys import account
from edge.refuse import Refusal
from edge.tiers import holder

EVENTS_PATH = re.compile(r"^/v1/jobs/[^/]+/events$")
"""The SSE route of one job's events (a stream, and a route that takes a ticket)."""
RESPONSE_PATH = re.compile(r"^/v1/responses/[^/]+$")
"""A response, which `?stream=true` makes an SSE stream of its events."""
_TRUE = frozenset(("1", "true", "on", "yes", "t", "y"))
UI_CHAT_STREAMS = {
    "POST": re.compile(r"^/v1/ui/chat$"),
    "GET": re.compile(r"^/v1/ui/chat/[^/]+/stream$"),
}
"""The AI SDK's UI message streams (`edge.routers.uichat`): an answer, and its resume."""
STREAMS_OPEN = Gauge("relayline_streams_open", "Open WebSocket and SSE streams on this edge")
STREAMS_REFUSED = Counter(
    "relayline_streams_refused_total", "Streams refused by a connection cap", ["cap"]
)
EDGE_FULL_RETRY_SECONDS = 1
USER_FULL_RETRY_SECONDS = 5


def is_stream(scope: Scope) -> bool:
    """A connection that stays open: any WebSocket, the SSE of a job's events, of a
    response's (`GET /v1/responses/{id}?stream=true`), or a UI message stream."""
    if scope["type"] == "websocket":
        return True
    if scope["type"] != "http":
        return False
    ui_stream = UI_CHAT_STREAMS.get(scope["method"])
    if ui_stream is not None and ui_stream.match(scope["path"]):
        return True
    if scope["method"] != "GET":
        return False
    if EVENTS_PATH.match(scope["path"]):
        return True
    return bool(RESPONSE_PATH.match(scope["path"])) and _streams(scope.get("query_string", b""))


def _streams(query: bytes) -> bool:
    """Whether a query asks for a stream (`stream=true`, as FastAPI reads a boolean)."""
    pairs = parse_qsl(query.decode("latin-1"))
    return any(name == "stream" and value.lower() in _TRUE for name, value in pairs)


class StreamSlots:
    """How many streams are open on this edge, in all and per user's account."""

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams
        self.total = 0
        self.by_user: dict[str, int] = {}

    def acquire(self, user: str, user_cap: int) -> Refusal | None:
        """Takes a slot, or says why not (the caller answers with the refusal)."""
        if self.total >= self.max_streams:
            STREAMS_REFUSED.labels("edge").inc()
            return Refusal(
                503,
                ErrorCode.edge_full,
                f"this edge has {self.max_streams} open streams, its most; retry shortly",
                WS_CLOSE_TRY_AGAIN_LATER,
                {"Retry-After": str(EDGE_FULL_RETRY_SECONDS)},
            )
        held = self.by_user.get(account(user), 0)
        if held >= user_cap:
            STREAMS_REFUSED.labels("user").inc()
            return Refusal(
                429,
                ErrorCode.too_many_connections,
                # (fits a WebSocket close reason's 123 bytes, code included)
                f"{holder(user)} have {held} WebSocket/SSE connections open here, the most allowed",
                WS_CLOSE_TOO_MANY,
                {"Retry-After": str(USER_FULL_RETRY_SECONDS)},
            )
        self.by_user[account(user)] = held + 1
        self.total += 1
        STREAMS_OPEN.set(self.total)
        return None

    def release(self, user: str) -> None:
        held = self.by_user.get(account(user), 0) - 1
        if held > 0:
            self.by_user[account(user)] = held
        else:
            self.by_user.pop(account(user), None)
        self.total -= 1
        STREAMS_OPEN.set(self.total)
