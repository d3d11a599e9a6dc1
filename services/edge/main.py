"""The edge application: `create_app(settings)` wires settings, Redis, the job store, the
fan-out hub and the routers together."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import telemetry
from contracts.batch import ScriptBatch
from contracts.connect import BlockingReaders, connect
from contracts.durability import Durability
from contracts.keys import Keys
from contracts.layout import check_layout
from contracts.pools import load_pools
from edge.accesslog import redact_query_strings
from edge.deps import EdgeState
from edge.docs import mount_docs
from edge.errors import install_error_handlers
from edge.fanout import Hub
from edge.guards import (
    Guards,
    RateLimitMiddleware,
    StreamLimitMiddleware,
    admit_new_guest,
    tiers_of,
)
from edge.identity import GuestCookieMiddleware, GuestSigner
from edge.limits import BodyLimitMiddleware
from edge.loads import SharedLoads, pool_loads
from edge.origins import BrowserGuardMiddleware
from edge.routers import health, jobs, models, openai, responses, stream, tickets, uichat, usage
from edge.settings import Settings
from edge.store import JobStore
from edge.tickets import TicketMiddleware
from edge.usage import Quotas
from edge.web import mount_spa

log = logging.getLogger("relayline.edge")


WS_GOING_AWAY = 1001


async def going_away(app: FastAPI) -> None:
    """Called when the server stops: WebSockets close with 1001 before connections drop."""
    state: EdgeState | None = getattr(app.state, "edge", None)
    if state is not None:
        await state.close_sockets(WS_GOING_AWAY, "this edge is shutting down; reconnect")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    api_keys = settings.api_key_map()
    if not api_keys and not settings.guest_mode:
        raise RuntimeError(
            "nobody could use this edge: set EDGE_API_KEYS (key:user,...), or "
            "EDGE_GUEST_MODE=true with EDGE_GUEST_SECRET"
        )
    tiers = tiers_of(settings)  # a bad EDGE_USER_TIERS stops the start, not a request
    pools = load_pools(settings.pools_file)
    keys = Keys(settings.key_prefix, settings.shards)
    tracer = telemetry.installed()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A blocking pool: a burst of requests waits for a connection instead of failing.
        redis = cast(
            Redis,
            connect(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                health_check_interval=30,
            ),
        )
        # The fan-out's blocking reads: a connection for each shard with watched jobs (on a
        # Cluster, to the node that owns the shard's slot).
        readers = BlockingReaders(settings.redis_url, redis, connections=keys.shards)
        # Rate-limit checks and submits of concurrent requests share their trips to Redis.
        batch = ScriptBatch(redis)
        store = JobStore(
            redis,
            keys,
            pools,
            retention_seconds=settings.event_retention_seconds,
            idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
            max_queued=settings.max_queued_per_pool,
            max_input_bytes=settings.max_input_bytes,
            list_max_bytes=settings.list_max_bytes,
            tier_for=tiers.tier_for,
            log_retention_seconds=settings.event_log_retention_seconds,
            durability=Durability(settings.redis_wait_replicas, settings.redis_wait_timeout_ms),
            batch=batch,
        )
        try:
            await check_layout(redis, keys, "EDGE_SHARDS")
            await store.ensure_groups()
        except (RedisError, OSError) as exc:
            log.warning("could not check the key layout or create consumer groups yet (%s)", exc)
        hub = Hub(redis, readers, keys, settings.reader_block_ms)
        await hub.start()
        quotas = Quotas(redis, keys, tiers, settings.quota_window_seconds)
        live = settings.worker_live_seconds
        loads = SharedLoads(lambda: pool_loads(redis, keys, list(pools.pools.values()), live))
        app.state.edge = EdgeState(settings, redis, store, hub, api_keys, quotas, loads)
        app.state.guards = Guards(settings, redis, keys, batch)
        try:
            yield
        finally:
            await hub.stop()
            await readers.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Relayline",
        version="0.1.0",
        summary="Jobs on Redis Streams, model worker pools, resumable event streams.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs, from the installed package
        redoc_url=None,
        # FastAPI's own spans (one per request) while Relayline traces; told so here, not
        # found out on every request (a look at OpenTelemetry's globals, 4% of a submit).
        telemetry={
            "tracing": tracer is not None,
            "tracer_provider": tracer,
            "metrics": False,  # the edge's metrics are Prometheus' (/metrics)
            "logs": False,
        },
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_waiting=settings.max_large_bodies_per_client,
    )
    app.add_middleware(StreamLimitMiddleware)
    app.add_middleware(RateLimitMiddleware)
    if settings.guest_mode:
        app.add_middleware(
            GuestCookieMiddleware,
            secret=_guest_secret(settings),
            trust_proxy_headers=settings.trust_proxy_headers,
            admit_new=admit_new_guest,
        )
    # Added last, run first: a foreign Host or Origin is refused before a ticket is used up.
    app.add_middleware(TicketMiddleware)
    app.add_middleware(BrowserGuardMiddleware, settings=settings)
    redact_query_strings()
    for module in (health, models, jobs, stream, openai, responses, tickets, usage, uichat):
        if module is jobs:  # its busiest route on the app's own router, ahead of it
            jobs.add_submit_route(app)
        app.include_router(module.router)
    mount_docs(app)
    mount_spa(app, settings.web_dist)
    return app


def _guest_secret(settings: Settings) -> str:
    """Guest mode signs guest ids; without a secret anyone could claim anyone's id, and a
    secret made up per process would log every guest out at each restart and on every
    other edge. So there is no guest mode without one (`relayline up` makes one)."""
    secret = settings.guest_secret.get_secret_value()
    if not secret:
        raise RuntimeError(
            "EDGE_GUEST_MODE needs EDGE_GUEST_SECRET (32+ characters, the same on every edge), "
            "e.g. python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    GuestSigner(secret)  # refuses a short secret now, not at the first request
    return secret
