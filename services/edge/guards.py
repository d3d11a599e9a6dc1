"""The per-user guards every request passes, as ASGI middleware: the request rate (a token
bucket in Redis), the cap on open streams (in memory, per edge) and the rate of new guest
ids per client address. They run before any route, and refuse with `edge.refuse`. The
guests of one client address share one bucket and one count of streams (their account,
`contracts.keys.account`).

    GuestCookieMiddleware  (guest mode) a new guest id costs a token of its address' bucket
     └─ RateLimitMiddleware  every /v1/ request and WebSocket handshake: one token
                             (`POST /v1/jobs`: taken by the script that queues the job);
                             an HTTP request with no caller: its 401, before its body is read
         └─ StreamLimitMiddleware  WebSocket and SSE: a slot of the user's and the edge's cap
"""

from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.batch import ScriptBatch
from contracts.keys import Keys, account
from edge.connections import StreamSlots, is_stream
from edge.errors import ApiError, is_openai_path
from edge.identity import resolve_user
from edge.ratelimit import (
    RateLimited,
    RateLimiter,
    Token,
    client_address,
    guest_refusal,
    rate_refusal,
)
from edge.refuse import deny, refuse
from edge.settings import Settings
from edge.tiers import LimitTier, TierTable


class Guards:
    """What the middleware and the WebSocket ask; `app.state.guards`, set at start-up."""

    def __init__(
        self, settings: Settings, redis: Redis, keys: Keys, batch: ScriptBatch | None = None
    ) -> None:
        self.settings = settings
        self.api_keys = settings.api_key_map()
        self.tiers = tiers_of(settings)
        self.rates = RateLimiter(redis, keys, batch)
        self.slots = StreamSlots(settings.max_streams)

    def user_of(self, scope: Scope) -> str | None:
        """The caller, or None (the route answers 401 itself)."""
        try:
            return resolve_user(scope, self.api_keys, self.settings.guest_mode)
        except ApiError:
            return None

    def tier(self, user: str) -> LimitTier:
        return self.tiers.tier_for(user)


def tiers_of(settings: Settings) -> TierTable:
    return TierTable(
        default=LimitTier(
            requests_per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            max_streams=settings.max_streams_per_user,
            max_active_jobs=settings.max_active_jobs_per_user,
            max_stored_bytes=settings.max_stored_bytes_per_user,
            weight=settings.weight,
            tokens_per_window=settings.tokens_per_window,
        ),
        guest=LimitTier(
            requests_per_second=settings.guest_rate_limit_per_second,
            burst=settings.guest_rate_limit_burst,
            max_streams=settings.guest_max_streams_per_user,
            max_active_jobs=settings.guest_max_active_jobs_per_user,
            max_stored_bytes=settings.guest_max_stored_bytes_per_user,
            weight=settings.guest_weight,
            tokens_per_window=settings.guest_tokens_per_window,
        ),
        named=settings.limit_tiers,
        user_tiers=settings.user_tiers,
    )


_PROBES = frozenset(("/healthz", "/readyz", "/metrics"))  # an orchestrator's, every few s


def _guards(scope: Scope) -> Guards | None:
    app = scope.get("app")
    return getattr(app.state, "guards", None) if app is not None else None


def _guarded(scope: Scope) -> bool:
    return scope["type"] in ("http", "websocket") and scope["path"].startswith("/v1/")


def client_of(scope: Scope) -> str:
    """Whose turn a large body waits for (`edge.limits.BodyTurns`): the caller's account,
    or the client's address while no caller is known."""
    guards = _guards(scope)
    user = guards.user_of(scope) if guards is not None else None
    return account(user) if user else f"address {client_address(scope.get('client'))}"


SUBMIT_PATH = "/v1/jobs"


def takes_token_in_submit(scope: Scope) -> bool:
    """`POST /v1/jobs`, whose token the script that queues the job takes (`SUBMIT`), as a
    WebSocket `submit`'s: one trip to Redis per job instead of two. The route takes the
    token on its own when it refuses the request before `SUBMIT` (`edge.routers.jobs`), and
    this middleware when the route did not (a body refused by its Content-Length before the
    route ran, a client gone before its body came): every request still costs one token. A
    refusal this edge already knows of is answered here, without Redis."""
    return bool(
        scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == SUBMIT_PATH
    )


_TOKEN_KEY = "relayline_submit_token"


def submit_token(scope: Scope) -> Token:
    """The request token of a `POST /v1/jobs`, shared by this middleware and the route."""
    state = scope.setdefault("state", {})
    token: Token = state.setdefault(_TOKEN_KEY, Token())
    return token


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guards = _guards(scope)
        if guards is None or not _guarded(scope):
            await self.app(scope, receive, send)
            return
        try:
            user = resolve_user(scope, guards.api_keys, guards.settings.guest_mode)
        except ApiError as exc:
            if scope["type"] == "http":  # every route's 401, before its body is read
                await deny(scope, receive, send, exc.status, exc.code, exc.message, exc.headers)
            else:  # the WebSocket route refuses its handshake itself
                await self.app(scope, receive, send)
            return
        if takes_token_in_submit(scope):
            known = guards.rates.request_refusal(user)
            if known is not None:
                await refuse(rate_refusal(known, user), scope, receive, send)
                return
            token = submit_token(scope)
            await self.app(scope, receive, send)
            if not token.taken:  # answered before the route (413 by its length), or a hang-up
                await guards.rates.request(user, guards.tier(user))
            return
        decision = await guards.rates.request(user, guards.tier(user))
        openai = is_openai_path(scope["path"])
        if decision is not None and not decision.allowed:
            await refuse(rate_refusal(decision, user, openai), scope, receive, send)
            return
        if decision is None or not openai:
            await self.app(scope, receive, send)
            return
        headers = [
            (name.encode(), value.encode()) for name, value in decision.openai_headers().items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StreamLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guards = _guards(scope)
        user = guards.user_of(scope) if guards and is_stream(scope) else None
        if guards is None or user is None:
            await self.app(scope, receive, send)
            return
        refusal = guards.slots.acquire(user, guards.tier(user).max_streams)
        if refusal is not None:
            await refuse(refusal, scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            guards.slots.release(user)


async def admit_new_guest(scope: Scope, receive: Receive, send: Send) -> bool:
    """The gate `GuestCookieMiddleware` calls before it mints a guest id: one token of the
    client address' bucket. False when it refused (and answered) the request."""
    guards = _guards(scope)
    if guards is None or scope["path"] in _PROBES or guards.user_of(scope) is not None:
        return True  # (a request with a valid key is no guest: its cookie goes unused)
    settings = guards.settings
    address = client_address(scope.get("client"))
    decision = await guards.rates.new_guest(
        address, settings.guest_ids_per_minute, settings.guest_ids_burst
    )
    if decision is None or decision.allowed:
        return True
    await refuse(guest_refusal(decision), scope, receive, send)
    return False


async def take_token(guards: Guards, user: str) -> None:
    """A token of the user's request bucket, for a WebSocket message, or a submit refused
    before `SUBMIT` could take its token (`takes_token_in_submit`); `RateLimited` when the
    bucket is empty."""
    decision = await guards.rates.request(user, guards.tier(user))
    if decision is not None and not decision.allowed:
        raise RateLimited(decision, user)
