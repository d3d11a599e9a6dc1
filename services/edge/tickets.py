"""Stream tickets: how a browser opens a WebSocket or an `EventSource` without a key in the URL.

`POST /v1/tickets` (authenticated by key or guest cookie) stores the caller's user and the
ticket's purpose in Redis under the SHA-256 of a random token, with a TTL
(`EDGE_TICKET_TTL_SECONDS`), and answers the token. `TicketMiddleware` redeems
`?ticket=<token>` on `WS /v1/ws` (purpose `ws`) and `GET /v1/jobs/{id}/events` (purpose
`events`) only: it deletes the entry as it reads it (GETDEL), so a ticket works once, on any
edge, and only for its purpose; a missing, expired, used or mismatched ticket is
`401 invalid_ticket`. The user it names goes into the request's state, where
`edge.identity.resolve_user` finds it.
"""

import hashlib
import json
import logging
import re
import secrets
import time
from typing import cast
from urllib.parse import parse_qsl

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.errors import ErrorCode
from contracts.keys import Keys
from contracts.tickets import TICKET_PATTERN, Ticket, TicketPurpose
from edge.connections import EVENTS_PATH
from edge.refuse import deny

log = logging.getLogger("relayline.edge")

TICKET_PARAMETER = "ticket"
TICKET_USER = "relayline_ticket_user"
"""Where a redeemed ticket's user is kept in the request's state."""

_TICKET = re.compile(TICKET_PATTERN)


class TicketBook:
    def __init__(self, redis: Redis, keys: Keys, ttl_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_seconds = ttl_seconds

    def _key(self, token: str) -> str:
        return self.keys.ticket(hashlib.sha256(token.encode()).hexdigest())

    async def issue(self, user: str, purpose: TicketPurpose) -> Ticket:
        token = secrets.token_urlsafe(32)
        entry = json.dumps({"user": user, "purpose": purpose.value})
        await self.redis.set(self._key(token), entry, ex=self.ttl_seconds)
        return Ticket(ticket=token, purpose=purpose, expires_at=time.time() + self.ttl_seconds)

    async def redeem(self, token: str, purpose: TicketPurpose) -> str | None:
        """The user of a valid ticket for this purpose, once; None for any other token."""
        if not _TICKET.match(token):
            return None
        raw = cast(str | None, await self.redis.getdel(self._key(token)))
        if raw is None:
            return None
        entry = json.loads(raw)
        return str(entry["user"]) if entry.get("purpose") == purpose.value else None


def stream_purpose(scope: Scope) -> TicketPurpose | None:
    """The ticket purpose a route accepts, or None for every route that takes no ticket."""
    path = scope.get("path", "")
    if scope["type"] == "websocket" and path == "/v1/ws":
        return TicketPurpose.ws
    if scope["type"] == "http" and scope.get("method") == "GET" and EVENTS_PATH.match(path):
        return TicketPurpose.events
    return None


def query_values(scope: Scope, name: str) -> list[str]:
    if not scope.get("query_string"):  # most requests: nothing to parse
        return []
    query = bytes(scope["query_string"]).decode("latin-1")
    return [value for key, value in parse_qsl(query, keep_blank_values=True) if key == name]


def ticket_book(scope: Scope) -> TicketBook:
    state = scope["app"].state.edge
    return TicketBook(state.redis, state.store.keys, state.settings.ticket_ttl_seconds)


class TicketMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        purpose = stream_purpose(scope) if scope["type"] in ("http", "websocket") else None
        tokens = query_values(scope, TICKET_PARAMETER) if purpose else []
        if not tokens or purpose is None:
            await self.app(scope, receive, send)
            return
        try:
            user = await ticket_book(scope).redeem(tokens[0], purpose) if len(tokens) == 1 else None
        except RedisError as exc:
            log.warning("redis unavailable for a ticket: %s", exc)
            message = "the job store is unreachable; retry shortly"
            await deny(
                scope,
                receive,
                send,
                503,
                ErrorCode.redis_unavailable,
                message,
                {"Retry-After": "1"},
            )
            return
        if user is None:
            message = (
                f"the ticket is not valid for {scope['path']}: unknown, expired, already used or "
                f"issued for another purpose; get a new one with POST /v1/tickets"
            )
            await deny(scope, receive, send, 401, ErrorCode.invalid_ticket, message)
            return
        scope.setdefault("state", {})[TICKET_USER] = user
        await self.app(scope, receive, send)
