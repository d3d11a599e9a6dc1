"""Token quotas at submit, and the usage report of `GET /v1/usage`.

The workers charge every job's real usage when it ends (`contracts.usage`); here the edge
reads it back. A submit is refused with `429 token_quota` while the owner's account has used
its tier's `tokens_per_window` or more in the current window (a tier without a quota costs
no Redis read). All guests of one client address share one account, so one quota.
"""

import math
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from contracts.errors import ErrorCode
from contracts.keys import Keys, account
from contracts.usage import (
    QuotaState,
    UsageLedger,
    UsageReport,
    UsageRow,
    recent_days,
    usage_rows,
    window_start,
)
from edge.errors import TooManyRequests
from edge.tiers import TierTable, holder

MAX_REPORT_ENTRIES = 20_000
"""The most (account, day) pairs one report reads: an operator's `all` over many accounts and
days stops there, with `truncated`."""


class Quotas:
    """What submits and `GET /v1/usage` ask; `EdgeState.quotas`."""

    def __init__(self, redis: Redis, keys: Keys, tiers: TierTable, window_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.tiers = tiers
        self.ledger = UsageLedger(redis, keys, window_seconds)
        self.window_seconds = window_seconds

    async def state(self, user: str, now: float | None = None) -> QuotaState:
        """The user's quota and what its account used of it in the current window."""
        now = time.time() if now is None else now
        return QuotaState(
            limit=self.tiers.tier_for(user).tokens_per_window,
            used=await self.ledger.used(user, now),
            window_seconds=self.window_seconds,
            resets_at=window_start(now, self.window_seconds) + self.window_seconds,
        )

    async def check(self, user: str) -> None:
        """Refuse a submit of a user whose account used up its quota of this window."""
        if self.tiers.tier_for(user).tokens_per_window <= 0:
            return
        now = time.time()
        quota = await self.state(user, now)
        if quota.used >= quota.limit:
            raise token_refusal(user, quota, now)

    async def report(self, user: str, days: int, everyone: bool = False) -> UsageReport:
        """The caller's usage (every account's, for `everyone`) over the last `days` UTC
        days, newest day first, and the caller's quota."""
        now = time.time()
        wanted = recent_days(now, days)
        if everyone:
            pairs = await self._charged_accounts(wanted)
        else:
            pairs = [(account(user), day) for day in wanted]
        truncated = len(pairs) > MAX_REPORT_ENTRIES
        pairs = pairs[:MAX_REPORT_ENTRIES]
        async with self.redis.pipeline(transaction=False) as pipe:
            for who, day in pairs:
                pipe.hgetall(self.keys.usage(who, day))
            hashes: list[dict[str, str]] = await pipe.execute()
        rows: list[UsageRow] = []
        for (who, day), fields in zip(pairs, hashes, strict=True):
            rows += usage_rows(who, day, fields)
        return UsageReport(
            days=days, data=rows, quota=await self.state(user, now), truncated=truncated
        )

    async def _charged_accounts(self, days: list[str]) -> list[tuple[str, str]]:
        """Every (account, day) some job was charged to, from each shard's daily sets, newest
        day first: the sets' sizes are read first, and only the days up to the one that
        passes `MAX_REPORT_ENTRIES` are read, so a report over many accounts and days holds
        no more than a page and one day's accounts."""
        sets = [
            [self.keys.usage_accounts(shard, day) for shard in range(self.keys.shards)]
            for day in days
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for day_sets in sets:
                for key in day_sets:
                    pipe.scard(key)
            sizes: list[int] = await pipe.execute()
        shards, wanted, total = self.keys.shards, 0, 0
        while wanted < len(days) and total <= MAX_REPORT_ENTRIES:
            total += sum(sizes[wanted * shards : (wanted + 1) * shards])
            wanted += 1
        async with self.redis.pipeline(transaction=False) as pipe:
            for day_sets in sets[:wanted]:
                for key in day_sets:
                    pipe.smembers(key)
            members: list[set[str]] = await pipe.execute()
        pairs: list[tuple[str, str]] = []
        for index, day in enumerate(days[:wanted]):
            accounts = set().union(*members[index * shards : (index + 1) * shards])
            pairs += [(who, day) for who in sorted(accounts)]
        return pairs


def token_refusal(user: str, quota: QuotaState, now: float) -> TooManyRequests:
    """`429 token_quota`, with `Retry-After`: the seconds until the window ends."""
    seconds = max(1, math.ceil(quota.resets_at - now))
    resets = datetime.fromtimestamp(quota.resets_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return TooManyRequests(
        ErrorCode.token_quota,
        f"{holder(user)} used {quota.used} tokens of the quota of {quota.limit} per "
        f"{quota.window_seconds} s window; it resets at {resets}: retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
