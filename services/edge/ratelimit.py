"""Request rates: one token bucket per user, shared by every edge, in Redis.

A user may hit any edge, so the bucket lives in Redis: one key per user (`Keys.rate_user`;
all guests of one client address share one, see `contracts.keys.account`) and one Lua
script (GCRA, a token bucket kept as a single timestamp) that decides and records in one
round trip, on Redis's own clock. Every `/v1/` request, every WebSocket
handshake and every WebSocket message costs one token. New guest ids per client address go
through a bucket of their own (`Keys.rate_guest_ids`).

When Redis does not answer in `REDIS_TIMEOUT_SECONDS`, the limiter fails OPEN: the request
goes on (and meets the unreachable Redis in its route: 503). A Redis outage must not turn
into 429s for everyone; the per-edge, in-memory caps on connections and streams still bound
what any client can hold.
"""

import asyncio
import ipaddress
import logging
import math
from dataclasses import dataclass

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.batch import ScriptBatch
from contracts.errors import WS_CLOSE_TOO_MANY, ErrorCode
from contracts.keys import Keys
from edge.refuse import Refusal
from edge.tiers import LimitTier, holder

log = logging.getLogger("relayline.edge")

REDIS_TIMEOUT_SECONDS = 1.0
RATE_REFUSED = Counter(
    "relayline_rate_refused_total", "Requests refused by a rate limit", ["limit"]
)

# KEYS[1] the bucket; ARGV: ms per token, burst, cost.
# Returns {allowed (0/1), tokens remaining, ms until one more is allowed, ms until full}.
GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if now < allow_at then
  local left = math.max(0, math.floor((now - (tat - interval * burst)) / interval))
  return {0, left, math.ceil(allow_at - now), math.ceil(tat - now)}
end
local until_full = math.max(1, math.ceil(new_tat - now))
redis.call('SET', KEYS[1], string.format('%d', math.ceil(new_tat)), 'PX', until_full)
return {1, math.floor((now - allow_at) / interval), 0, until_full}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_ms: int
    reset_ms: int

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


class RateLimiter:
    def __init__(self, redis: Redis, keys: Keys, batch: ScriptBatch | None = None) -> None:
        self.keys = keys
        self._gcra = redis.register_script(GCRA)
        self._batch = batch or ScriptBatch(redis)

    async def take(self, key: str, per_second: float, burst: int) -> Decision | None:
        """One token from a bucket; None when Redis did not answer (fail open)."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                args = [repr(1000 / per_second), burst, 1]
                raw = await self._batch(self._gcra, [key], args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate limit not checked (failing open): %s", exc)
            return None
        allowed, remaining, retry_ms, reset_ms = (int(value) for value in raw)
        return Decision(bool(allowed), burst, remaining, retry_ms, reset_ms)

    async def request(self, user: str, tier: LimitTier) -> Decision | None:
        return await self.take(self.keys.rate_user(user), tier.requests_per_second, tier.burst)

    async def new_guest(self, address: str, per_minute: float, burst: int) -> Decision | None:
        return await self.take(self.keys.rate_guest_ids(address), per_minute / 60, burst)


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
