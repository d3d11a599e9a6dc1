"""Dependencies the routers ask for, as `Annotated` aliases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from edge.fanout import Hub
from edge.identity import resolve_user
from edge.settings import Settings
from edge.store import JobStore


@dataclass
class EdgeState:
    settings: Settings
    redis: Redis
    store: JobStore
    hub: Hub
    api_keys: dict[str, str]


def edge_state(request: Request) -> EdgeState:
    state: EdgeState = request.app.state.edge
    return state


def current_user(request: Request) -> str:
    state = edge_state(request)
    return resolve_user(request.scope, state.api_keys, state.settings.guest_mode)


StateDep = Annotated[EdgeState, Depends(edge_state)]
CurrentUser = Annotated[str, Depends(current_user)]
