"""Limit tiers: how many requests a user may make, how many streams it may hold open, how
many of its jobs may be unfinished and how many bytes of output it may keep stored.

Keyed users get the `default` tier (`EDGE_RATE_LIMIT_*`, `EDGE_MAX_STREAMS_PER_USER`,
`EDGE_MAX_ACTIVE_JOBS_PER_USER`, `EDGE_MAX_STORED_BYTES_PER_USER`), guests the lower `guest`
tier (`EDGE_GUEST_*`), whose limits all guests of one client address share: they count
against one account (`contracts.keys.account`). A service that fronts many users under one
key gets a named tier of `EDGE_LIMIT_TIERS` through `EDGE_USER_TIERS="user:tier,..."`; the
key itself stays in `EDGE_API_KEYS` as `key:user`.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from contracts.keys import GUEST_PREFIX, account

DEFAULT_MAX_STORED_BYTES = 256 << 20
"""A keyed user's budget of stored output (`EDGE_MAX_STORED_BYTES_PER_USER`)."""
MAX_STORED_BYTES = 1 << 50
"""The largest budget a setting takes: exact in Redis's Lua numbers (doubles)."""


Weight = Annotated[float, Field(ge=0.01, le=1000, allow_inf_nan=False)]
"""A user's share of a busy pool against other users' (see docs/scheduling.md)."""
TokenQuota = Annotated[int, Field(ge=0, le=MAX_STORED_BYTES)]
"""Tokens per quota window; 0: no quota."""


def holder(user: str) -> str:
    """Who holds what a limit counts, as a refusal tells the user: `you`, or for a guest
    the guests of its network address, who share its limits."""
    return "the guests of your network address" if account(user) != user else "you"


class LimitTier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_second: float = Field(gt=0, le=1_000_000, description="Refill rate.")
    burst: int = Field(ge=1, le=10_000_000, description="Bucket size: requests at once.")
    max_streams: int = Field(ge=1, le=1_000_000, description="Open WebSocket + SSE per edge.")
    max_active_jobs: int = Field(ge=1, le=10_000_000, description="Jobs not ended yet.")
    max_stored_bytes: int = Field(
        default=DEFAULT_MAX_STORED_BYTES,
        ge=1,
        le=MAX_STORED_BYTES,
        description="Bytes of job output kept stored within a retention period.",
    )
    weight: Weight = Field(
        default=1.0,
        description="Share of a busy pool: a user of weight 3 is served 3 jobs for 1 of a "
        "user of weight 1 while both have jobs waiting.",
    )
    tokens_per_window: TokenQuota = Field(
        default=0,
        description="Tokens (prompt + completion, embeddings inputs) per quota window; 0: "
        "no quota.",
    )


DEFAULT_TIER = LimitTier(requests_per_second=20, burst=100, max_streams=64, max_active_jobs=100)
"""The keyed users' tier under the default settings."""

SERVICE_TIER = LimitTier(
    requests_per_second=1000,
    burst=5000,
    max_streams=2048,
    max_active_jobs=10_000,
    max_stored_bytes=8 << 30,
)


class TierTable:
    """Which tier each user gets."""

    def __init__(
        self,
        default: LimitTier,
        guest: LimitTier,
        named: dict[str, LimitTier],
        user_tiers: str,
    ) -> None:
        self.default, self.guest, self.named = default, guest, named
        self.by_user: dict[str, LimitTier] = {}
        for item in (part.strip() for part in user_tiers.split(",")):
            if not item:
                continue
            user, sep, tier = item.rpartition(":")
            if not sep or not user or tier not in named:
                known = ", ".join(sorted(named)) or "none"
                raise ValueError(
                    f"EDGE_USER_TIERS entry {item!r} is not 'user:tier' with a tier of "
                    f"EDGE_LIMIT_TIERS (known: {known})"
                )
            self.by_user[user] = named[tier]

    def tier_for(self, user: str) -> LimitTier:
        if user.startswith(GUEST_PREFIX):
            return self.guest
        return self.by_user.get(user, self.default)
