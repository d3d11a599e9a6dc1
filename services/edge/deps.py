"""Dependencies the routers ask for, as `Annotated` aliases."""

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from contracts.errors import ErrorCode
from edge.errors import Forbidden
from edge.fanout import Hub
from edge.identity import resolve_user
from edge.loads import SharedLoads
from edge.settings import Settings
from edge.store import JobStore
from edge.usage import Quotas


@dataclass
class EdgeState:
    settings: Settings
    redis: Redis
    store: JobStore
    hub: Hub
    api_keys: dict[str, str]
    quotas: Quotas
    loads: SharedLoads
    sockets: set[WebSocket] = field(default_factory=set)

    async def close_sockets(self, code: int, reason: str) -> None:
        """Close every open WebSocket, e.g. with 1001 when this edge shuts down, so clients
        reconnect (to another edge) and resume from their last seq."""
        await asyncio.gather(*(close_quietly(socket, code, reason) for socket in self.sockets))


async def close_quietly(socket: WebSocket, code: int, reason: str, seconds: float = 2) -> None:
    """Close a WebSocket; one that is gone or does not answer in time is left as it is."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(seconds):
            await socket.close(code, reason)


def _state(request: Request) -> EdgeState:
    state: EdgeState = request.app.state.edge
    return state


async def edge_state(request: Request) -> EdgeState:
    """The edge's state. This and the other dependencies are `async def`, though they never
    wait: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on every
    request (the costliest step of a submit, when they were)."""
    return _state(request)


_BEARER = HTTPBearer(
    auto_error=False,
    description="An API key from EDGE_API_KEYS; in guest mode, or with a ticket, optional.",
)


async def current_user(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> str:
    """The caller's user id. The bearer scheme is declared for the OpenAPI schema; the key
    itself is checked by `resolve_user`, like every other way to name a user."""
    state = _state(request)
    return resolve_user(request.scope, state.api_keys, state.settings.guest_mode)


async def operator(request: Request, user: Annotated[str, Depends(current_user)]) -> str:
    """The caller, if it is one of `EDGE_OPERATORS`; else 403."""
    if user not in _state(request).settings.operator_set():
        raise Forbidden(ErrorCode.forbidden, "only an operator (EDGE_OPERATORS) may see this")
    return user


StateDep = Annotated[EdgeState, Depends(edge_state)]
CurrentUser = Annotated[str, Depends(current_user)]
Operator = Annotated[str, Depends(operator)]
