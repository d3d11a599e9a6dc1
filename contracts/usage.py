"""Token usage and quotas: what a job costs its owner, and where that is counted.

A worker charges every job once, in the same step as it appends the job's `job-end` (the
event log's `APPEND`; `charge` names its keys and arguments), with the engine's real usage
(`JobEnd.usage`: prompt + completion tokens; an embeddings job's inputs are its prompt
tokens). The charge adds, in the job's shard (the owner's account's):

- the tokens and one job to the account's hash of the job's UTC day (`Keys.usage`), by model;
  it lives `USAGE_RETENTION_DAYS` past its last charge;
- the tokens to the account's counter of the current quota window (`Keys.quota_used`), which
  lives one window past its last charge. Windows are `window_seconds` long and start at
  multiples of it since the epoch (UTC); the edge and the workers must agree on the length
  (`RELAYLINE_QUOTA_WINDOW_SECONDS` sets both);
- the account to its shard's set of the day's charged accounts (`Keys.usage_accounts`).

Both the day and the window are those of the `job-end`'s `ts`. A job ends once, so it is
charged once: a retried append of its `job-end` and any later attempt's end are refused
before they charge. A job that ends without usage (failed, cancelled, lost) counts as a job
with no tokens; a job ended by the edge or the reaper (cancelled while queued, dead-lettered)
is not charged at all.

The edge refuses a submit while the window's counter holds the owner's quota or more
(`edge.usage`): a job admitted under the quota may take it past by its own size.
"""

import functools
import math
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from contracts.events import JobEnd
from contracts.keys import Keys, account

USAGE_RETENTION_DAYS = 400
"""How long an account's usage of one day is kept after the day's last charge; also the most
days `GET /v1/usage` reports."""
USAGE_RETENTION_SECONDS = USAGE_RETENTION_DAYS * 86400
DEFAULT_QUOTA_WINDOW_SECONDS = 86400
QuotaWindowSeconds = Annotated[int, Field(ge=60, le=366 * 86400)]
"""The range of the quota window setting (`EDGE_`/`WORKER_`/`RELAYLINE_QUOTA_WINDOW_SECONDS`)."""
MAX_TOKENS_PER_JOB = 1 << 32
"""The most of each kind of token one job is charged: an engine (an upstream relay) that
reports more, or a negative count, is clamped, so no counter can overflow."""


def utc_day(ts: float) -> str:
    """The UTC day of a unix time, `YYYY-MM-DD`."""
    return _day_name(math.floor(ts / 86400))


@functools.lru_cache(maxsize=64)
def _day_name(day: int) -> str:
    """Named once per day: `strftime` costs a job-end's charge more than the rest of it."""
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


def recent_days(now: float, days: int) -> list[str]:
    """The `days` UTC days that end with today's, newest first."""
    return [utc_day(now - 86400 * back) for back in range(days)]


def window_start(ts: float, window_seconds: int) -> int:
    """The start of the quota window holding `ts` (a multiple of its length)."""
    return math.floor(ts / window_seconds) * window_seconds


def _clamp(tokens: int) -> int:
    return min(max(0, tokens), MAX_TOKENS_PER_JOB)


def charge(
    keys: Keys, owner: str, pool: str, end: JobEnd, window_seconds: int
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of the usage charge of a job of `owner` on `pool` that ends
    with `end`, as the event log's job-end `APPEND` takes them (its `charge_usage`)."""
    usage = end.usage
    prompt = _clamp(usage.prompt_tokens) if usage else 0
    completion = _clamp(usage.completion_tokens) if usage else 0
    charged, owner_account = _charged(
        keys, owner, utc_day(end.ts), window_start(end.ts, window_seconds)
    )
    return list(charged), [
        pool,
        prompt,
        completion,
        USAGE_RETENTION_SECONDS,
        window_seconds,
        owner_account,
    ]


@functools.lru_cache(maxsize=4096)
def _charged(keys: Keys, owner: str, day: str, window: int) -> tuple[tuple[str, str, str], str]:
    """The keys a job-end of `owner` charges on `day` in `window`, and the owner's account:
    the same for every job the owner ends that day."""
    charged = (
        keys.usage(owner, day),
        keys.quota_used(owner, window),
        keys.usage_accounts(keys.shard_of_user(owner), day),
    )
    return charged, account(owner)


class UsageLedger:
    """The reads of the usage keys, for the edge."""

    def __init__(self, redis: Redis, keys: Keys, window_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.window_seconds = window_seconds

    async def used(self, user: str, now: float | None = None) -> int:
        """The tokens a user's account used in the window holding `now` (default: now)."""
        start = window_start(time.time() if now is None else now, self.window_seconds)
        return int(await self.redis.get(self.keys.quota_used(user, start)) or 0)


class UsageRow(BaseModel):
    """One account's use of one model on one UTC day."""

    user: str = Field(description="The account: the user, or `guest-<tag>` for guests.")
    day: str = Field(description="The UTC day, `YYYY-MM-DD`.")
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    jobs: int


class QuotaState(BaseModel):
    """The caller's token quota in the current window."""

    limit: int = Field(description="Tokens per window; 0: no quota.")
    used: int = Field(description="Tokens charged in the current window.")
    window_seconds: int
    resets_at: int = Field(description="When the current window ends (unix seconds).")


class UsageReport(BaseModel):
    """`GET /v1/usage`: usage by account, UTC day (newest first) and model."""

    days: int
    data: list[UsageRow]
    quota: QuotaState
    truncated: bool = Field(
        default=False, description="More rows exist than one answer holds (operators' `all`)."
    )


def usage_rows(user: str, day: str, fields: dict[str, str]) -> list[UsageRow]:
    """The rows of one `Keys.usage` hash, by model name."""
    counts: dict[str, dict[str, int]] = {}
    for field, value in fields.items():
        model, _, kind = field.rpartition(":")
        counts.setdefault(model, {})[kind] = int(value)
    return [
        UsageRow(
            user=user,
            day=day,
            model=model,
            prompt_tokens=count.get("prompt", 0),
            completion_tokens=count.get("completion", 0),
            total_tokens=count.get("prompt", 0) + count.get("completion", 0),
            jobs=count.get("jobs", 0),
        )
        for model, count in sorted(counts.items())
    ]
