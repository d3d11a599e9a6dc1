"""Request rates: one token bucket per user, shared by every edge, in Redis.

A user may hit any edge, so the bucket lives in Redis: one key per user (`Keys.rate_user`;
all guests of one client address share one, see `contracts.keys.account`) and one Lua
script (GCRA, a token bucket kept as a single timestamp) that decides and records in one
round trip, on Redis's own clock (`contracts.gcra`). Every `/v1/` request, every WebSocket
handshake and every WebSocket message costs one token; that of a `POST /v1/jobs` and of a
WebSocket `submit` is taken by the `SUBMIT` script that queues its job (`edge.store`), in the
same round trip. New guest ids per client address go through a bucket of their own
(`Keys.rate_guest_ids`).

When Redis does not answer in `REDIS_TIMEOUT_SECONDS`, the limiter fails OPEN: the request
goes on (and meets the unreachable Redis in its route: 503). A Redis outage must not turn
into 429s for everyone; the per-edge, in-memory caps on connections and streams still bound
what any client can hold.
"""

import asyncio
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, replace

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.batch import ScriptBatch
from contracts.errors import WS_CLOSE_TOO_MANY, ErrorCode
from contracts.gcra import TAKE_TOKENS, Bucket, Taken
from contracts.keys import Keys
from edge.errors import TooManyRequests
from edge.refuse import Refusal
from edge.tiers import LimitTier, holder

log = logging.getLogger("relayline.edge")

REDIS_TIMEOUT_SECONDS = 1.0
RATE_REFUSED = Counter(
    "relayline_rate_refused_total", "Requests refused by a rate limit", ["limit"]
)

# KEYS[1] the bucket; ARGV: ms per token, burst, cost. Returns what `take_tokens` returns.
GCRA = (
    TAKE_TOKENS
    + "return take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))"
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_ms: int
    reset_ms: int
    asked_at: float
    """When the bucket was asked (`time.monotonic()`): before Redis read its clock."""

    @classmethod
    def of(cls, taken: Taken, bucket: Bucket, asked_at: float) -> "Decision":
        return cls(
            taken.allowed,
            bucket.burst,
            taken.remaining,
            taken.retry_after_ms,
            taken.reset_ms,
            asked_at,
        )

    @property
    def retry_at(self) -> float:
        """For a refusal: no request is allowed before this (`time.monotonic()`), whatever any
        edge does (a refusal takes nothing, and others' requests only push it later)."""
        return self.asked_at + self.retry_after_ms / 1000

    def again(self, now: float) -> "Decision":
        """This refusal, for a request at `now` (before `retry_at`)."""
        return replace(
            self,
            retry_after_ms=max(1, math.ceil((self.retry_at - now) * 1000)),
            reset_ms=max(1, math.ceil((self.asked_at + self.reset_ms / 1000 - now) * 1000)),
            asked_at=now,
        )

    def retry_after(self) -> int:
        """Whole seconds for `Retry-After`, at least 1."""
        return max(1, math.ceil(self.retry_after_ms / 1000))

    def openai_headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*-requests` headers."""
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": duration(self.reset_ms),
        }


def duration(ms: int) -> str:
    """A duration as OpenAI writes it: `20ms`, `1.5s`, `6m0s`."""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s"


REMEMBERED_REFUSALS = 10_000
"""Refused buckets one limiter remembers at most (each a key and a small object)."""


class RateLimiter:
    """Takes tokens from buckets in Redis. A bucket that refused is refused again here,
    without Redis, until it can allow one more (`Decision.retry_at`): a flood of refused
    requests costs Redis nothing and the edge no round trip."""

    def __init__(self, redis: Redis, keys: Keys, batch: ScriptBatch | None = None) -> None:
        self.keys = keys
        self._gcra = redis.register_script(GCRA)
        self._batch = batch or ScriptBatch(redis)
        self._refused: dict[str, Decision] = {}
        self._purge_at = 0.0

    async def take(self, key: str, bucket: Bucket) -> Decision | None:
        """One token from a bucket; None when Redis did not answer (fail open)."""
        known = self.refusal(key)
        if known is not None:
            return known
        asked_at = time.monotonic()
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                raw = await self._batch(self._gcra, [key], [*bucket.args(), 1])
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate limit not checked (failing open): %s", exc)
            return None
        decision = Decision.of(Taken.of(raw), bucket, asked_at)
        if not decision.allowed:
            self.remember(key, decision)
        return decision

    def refusal(self, key: str) -> Decision | None:
        """The bucket's refusal, if one is known and still holds."""
        known = self._refused.get(key)
        if known is None:
            return None
        now = time.monotonic()
        if now < known.retry_at:
            return known.again(now)
        del self._refused[key]
        return None

    def remember(self, key: str, refusal: Decision) -> None:
        """A refusal of the bucket at `key` (also one `SUBMIT` answered). When full, those
        that no longer hold go (looked for at most once a second, so that a flood of new
        keys does not scan them all each time), then the least recently refused."""
        self._refused.pop(key, None)
        if len(self._refused) >= REMEMBERED_REFUSALS:
            now = time.monotonic()
            if now >= self._purge_at:
                self._refused = {k: d for k, d in self._refused.items() if now < d.retry_at}
                self._purge_at = now + 1
            while len(self._refused) >= REMEMBERED_REFUSALS:
                del self._refused[next(iter(self._refused))]
        self._refused[key] = refusal

    async def request(self, user: str, tier: LimitTier) -> Decision | None:
        return await self.take(self.keys.rate_user(user), request_bucket(tier))

    def request_refusal(self, user: str) -> Decision | None:
        """The user's request bucket's refusal, if one is known and still holds (asked of
        every WebSocket message: nothing to build while no bucket is refusing)."""
        return self.refusal(self.keys.rate_user(user)) if self._refused else None

    def request_refused(self, user: str, refusal: Decision) -> None:
        """The user's request bucket refused in a script of its own (`SUBMIT`)."""
        self.remember(self.keys.rate_user(user), refusal)

    async def new_guest(self, address: str, per_minute: float, burst: int) -> Decision | None:
        return await self.take(self.keys.rate_guest_ids(address), Bucket(per_minute / 60, burst))


class Token:
    """The request token of a submit (`POST /v1/jobs`, a WebSocket `submit`), which `SUBMIT`
    takes in the script that queues the job (`JobStore.submit`). `taken` once `SUBMIT`
    answered, whatever it answered: a submit refused before (bad input, a used-up quota)
    takes its token on its own."""

    __slots__ = ("taken",)

    def __init__(self) -> None:  # no parameters: a FastAPI dependency declares none
        self.taken = False


def request_bucket(tier: LimitTier) -> Bucket:
    """The shape of a tier's request bucket."""
    return Bucket(tier.requests_per_second, tier.burst)


def rate_refusal(decision: Decision, user: str, openai: bool = False) -> Refusal:
    RATE_REFUSED.labels("requests").inc()
    seconds = decision.retry_after()
    headers = {"Retry-After": str(seconds), **(decision.openai_headers() if openai else {})}
    return Refusal(
        429,
        ErrorCode.rate_limited,
        f"too many requests: {holder(user)} may make {decision.limit} at once at most; "
        f"retry in {seconds} s",
        WS_CLOSE_TOO_MANY,
        headers,
    )


class RateLimited(TooManyRequests):
    """A refused request bucket as the error a route or a WebSocket message answers with."""

    def __init__(self, decision: Decision, user: str) -> None:
        refusal = rate_refusal(decision, user)
        super().__init__(refusal.code, refusal.message, refusal.headers)
        self.decision = decision


def guest_refusal(decision: Decision) -> Refusal:
    RATE_REFUSED.labels("guest_ids").inc()
    seconds = decision.retry_after()
    return Refusal(
        429,
        ErrorCode.too_many_guests,
        f"too many new guest sessions from your address; keep the cookie, or retry in {seconds} s",
        WS_CLOSE_TOO_MANY,
        {"Retry-After": str(seconds)},
    )


def client_address(client: tuple[str, int] | None) -> str:
    """The address new guest ids are counted by: the IPv4 address, or the /64 of an IPv6
    one (one host commonly holds a whole /64). uvicorn has already applied
    `X-Forwarded-For` from the proxies in `FORWARDED_ALLOW_IPS`."""
    if not client:
        return "unknown"
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return client[0][:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)
