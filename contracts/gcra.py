"""Request buckets in Redis: GCRA, a token bucket kept as one timestamp, on Redis's clock.

One Lua function, `take_tokens`, shared by the edge's limiter script (`edge.ratelimit`) and by
`SUBMIT` (`contracts.log`), which takes a submit's token (`POST /v1/jobs`, a WebSocket
`submit`) in the script that queues the job: one round trip fewer on the path every
submitted job takes.
"""

from dataclasses import dataclass

TAKE_TOKENS = """
-- Takes `cost` tokens from the bucket at `key` (`interval` ms per token, `burst` at most) and
-- stores its theoretical arrival time (unix ms, Redis's clock, to the microsecond: a bucket of
-- more than 1,000 tokens a second has an interval below one ms) until the bucket would be
-- full. Returns {allowed (0/1), tokens remaining, ms until one more is allowed, ms until full}.
local function take_tokens(key, interval, burst, cost)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
  local tat = now
  local stored = redis.call('GET', key)
  if stored then tat = math.max(tonumber(stored), now) end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - interval * burst
  if now < allow_at then
    local left = math.max(0, math.floor((now - (tat - interval * burst)) / interval))
    return {0, left, math.ceil(allow_at - now), math.ceil(tat - now)}
  end
  local until_full = math.max(1, math.ceil(new_tat - now))
  redis.call('SET', key, string.format('%.3f', new_tat), 'PX', until_full)
  return {1, math.floor((now - allow_at) / interval), 0, until_full}
end
"""


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket's shape: `per_second` tokens refill it, `burst` fill it."""

    per_second: float
    burst: int

    def args(self) -> list[str | int]:
        """`interval` (ms per token) and `burst`, as `take_tokens` takes them."""
        return [repr(1000 / self.per_second), self.burst]


@dataclass(frozen=True, slots=True)
class Taken:
    """What `take_tokens` answered."""

    allowed: bool
    remaining: int
    retry_after_ms: int
    """Until one more token is allowed (0 when this take was allowed)."""
    reset_ms: int
    """Until the bucket is full again."""

    @classmethod
    def of(cls, raw: list[int] | tuple[int, ...]) -> "Taken":
        allowed, remaining, retry_after_ms, reset_ms = (int(value) for value in raw)
        return cls(bool(allowed), remaining, retry_after_ms, reset_ms)
