from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.connect import service_url
from contracts.durability import WaitReplicas, WaitTimeoutMs
from contracts.keys import DEFAULT_SHARDS, GUEST_PREFIX, KeyPrefix, ShardCount
from contracts.pools import DEFAULT_POOLS_FILE
from contracts.usage import DEFAULT_QUOTA_WINDOW_SECONDS, QuotaWindowSeconds
from edge.tiers import (
    DEFAULT_MAX_STORED_BYTES,
    MAX_STORED_BYTES,
    SERVICE_TIER,
    LimitTier,
    TokenQuota,
    Weight,
)


class Settings(BaseSettings):
    """The edge's settings: environment variables prefixed `EDGE_`, plus the shared ones
    (`REDIS_URL`, `RELAYLINE_PREFIX`, `RELAYLINE_POOLS`)."""

    model_config = SettingsConfigDict(env_prefix="EDGE_", extra="ignore")

    redis_url: Annotated[str, AfterValidator(service_url)] = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("EDGE_REDIS_URL", "REDIS_URL"),
    )
    key_prefix: KeyPrefix = Field(
        default="rl:", validation_alias=AliasChoices("EDGE_KEY_PREFIX", "RELAYLINE_PREFIX")
    )
    shards: ShardCount = Field(
        default=DEFAULT_SHARDS,
        validation_alias=AliasChoices("EDGE_SHARDS", "RELAYLINE_SHARDS"),
        description="Shards of the key layout (S); fixed when a deployment first uses Redis.",
    )
    pools_file: Path = Field(
        default=DEFAULT_POOLS_FILE,
        validation_alias=AliasChoices("EDGE_POOLS_FILE", "RELAYLINE_POOLS"),
    )
    api_keys: str = Field(default="", description="'key1:alice,key2:bob': bearer keys to users.")
    guest_mode: bool = Field(default=False, description="Give each browser its own user id.")
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_large_bodies_per_client: int = Field(
        default=16,
        ge=1,
        le=10_000,
        description="Request bodies of 16 KiB or more one client may have waiting to be parsed; "
        "more are refused 429 (edge.limits.BodyTurns).",
    )
    client_queue_size: int = Field(
        default=1024, ge=16, description="Events buffered per client before it is cut off."
    )
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    responses_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long a cancel or delete of a response waits for its job to end.",
    )
    event_retention_seconds: int = Field(default=86400, ge=60)
    idempotency_ttl_seconds: int = Field(default=86400, ge=60)
    worker_live_seconds: float = Field(
        default=15.0, gt=0, description="A worker counts as live this long after a heartbeat."
    )
    max_queued_per_pool: int = Field(
        default=10000, ge=1, description="Jobs waiting in one pool before submits get 503."
    )
    max_active_jobs_per_user: int = Field(
        default=100, ge=1, description="A user's jobs that have not ended; more get 429."
    )
    redis_wait_replicas: WaitReplicas = Field(
        default=0,
        description="Replicas a commit point waits for (Redis WAIT): after a submit, before "
        "the 202; after a job-end, before the job is acknowledged. 0: no wait.",
    )
    redis_wait_timeout_ms: WaitTimeoutMs = Field(
        default=100,
        description="The longest a commit point waits for its replicas; fewer in time is "
        "logged (the write stands on the master). At most 4000: below the Redis client's "
        "read timeout of 5 s.",
    )
    redis_max_connections: int = Field(
        default=200, ge=4, description="Connections to Redis; callers wait when all are busy."
    )
    reader_block_ms: int = Field(default=1000, ge=10, le=60000)
    web_dist: Path | None = Field(default=None, description="The built SPA to serve at /.")
    max_input_bytes: int = Field(
        default=512 << 10,
        ge=1024,
        description="The texts of one job (message contents, embeddings texts), in UTF-8 "
        "bytes; more get 413 input_too_large before any tokenizing.",
    )
    list_max_bytes: int = Field(
        default=4 << 20,
        ge=1024,
        description="The outputs one page of GET /v1/jobs may hold, in bytes: a page stops "
        "early past it (always one job), its next_cursor going on from there.",
    )
    # Browsers: see edge.origins, edge.identity and edge.tickets.
    guest_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key that signs guest ids (32+ characters); required in guest mode.",
    )
    allowed_origins: str = Field(
        default="",
        description="Origins besides the edge's own allowed to call it ('https://a.example,...').",
    )
    allowed_hosts: str = Field(
        default="localhost,127.0.0.1,[::1]",
        description="Host names the edge answers to, besides the address a client connected "
        "to; '*' turns the check off.",
    )
    trust_proxy_headers: bool = Field(
        default=False,
        description="Believe X-Forwarded-Proto and X-Forwarded-Host (only behind a proxy).",
    )
    ticket_ttl_seconds: int = Field(
        default=60, ge=5, le=3600, description="How long a stream ticket may wait to be used."
    )
    # Connections and rates (docs/configuration.md, "Limits"). Sized for browsers.
    rate_limit_per_second: float = Field(
        default=20.0, gt=0, le=1_000_000, description="A keyed user's requests per second."
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, le=10_000_000, description="A keyed user's requests at once."
    )
    max_streams_per_user: int = Field(
        default=64, ge=1, le=1_000_000, description="A keyed user's open WebSocket + SSE."
    )
    # The guest tier: its limits hold for all guests of one client address together.
    guest_rate_limit_per_second: float = Field(
        default=5.0, gt=0, le=1_000_000, description="One address' guests' requests per second."
    )
    guest_rate_limit_burst: int = Field(
        default=30, ge=1, le=10_000_000, description="One address' guests' requests at once."
    )
    guest_max_streams_per_user: int = Field(
        default=16, ge=1, le=1_000_000, description="One address' guests' open WebSocket + SSE."
    )
    guest_max_active_jobs_per_user: int = Field(
        default=10, ge=1, le=10_000_000, description="One address' guests' unfinished jobs."
    )
    max_stored_bytes_per_user: int = Field(
        default=DEFAULT_MAX_STORED_BYTES,
        ge=1,
        le=MAX_STORED_BYTES,
        description="A keyed user's job output kept in Redis within a retention (a bucket "
        "draining at this much per retention); a submit over it gets 429 storage_quota.",
    )
    guest_max_stored_bytes_per_user: int = Field(
        default=32 << 20,
        ge=1,
        le=MAX_STORED_BYTES,
        description="One address' guests' job output kept in Redis within a retention.",
    )
    guest_ids_per_minute: float = Field(
        default=10.0, gt=0, le=1_000_000, description="New guest ids per client address."
    )
    guest_ids_burst: int = Field(default=30, ge=1, le=10_000_000)
    limit_tiers: dict[str, LimitTier] = Field(
        default_factory=lambda: {"service": SERVICE_TIER},
        description='Named tiers, JSON: {"service": {"requests_per_second", "burst", '
        '"max_streams", "max_active_jobs", "max_stored_bytes", "weight", '
        '"tokens_per_window"}}.',
    )
    user_tiers: str = Field(default="", description="'user:tier,...': users of a named tier.")
    # Fair share and quotas (see docs/scheduling.md): the default tier's, the guest tier's.
    weight: Weight = Field(
        default=1.0, description="A keyed user's share of a busy pool, against other users'."
    )
    guest_weight: Weight = Field(
        default=1.0, description="One address' guests' share of a busy pool (one account)."
    )
    tokens_per_window: TokenQuota = Field(
        default=0, description="A keyed user's tokens per quota window (0: no quota); then 429."
    )
    guest_tokens_per_window: TokenQuota = Field(
        default=0, description="One address' guests' tokens per quota window (0: no quota)."
    )
    quota_window_seconds: QuotaWindowSeconds = Field(
        default=DEFAULT_QUOTA_WINDOW_SECONDS,
        validation_alias=AliasChoices(
            "EDGE_QUOTA_WINDOW_SECONDS", "RELAYLINE_QUOTA_WINDOW_SECONDS"
        ),
        description="The length of a token quota window; windows start at multiples of it "
        "(UTC). The workers' must be the same: set RELAYLINE_QUOTA_WINDOW_SECONDS.",
    )
    operators: str = Field(
        default="",
        description="'alice,bob': users who see every user's usage and queue.",
    )
    max_streams: int = Field(
        default=3072, ge=1, le=1_000_000, description="Open WebSocket + SSE on this edge."
    )
    max_connections: int = Field(
        default=4096, ge=16, le=1_000_000, description="Open TCP connections on this edge."
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="To send a request's line and headers."
    )
    max_header_bytes: int = Field(
        default=64 << 10,
        ge=4096,
        le=16 << 20,
        description="A request's line and headers, in bytes; larger get 431 and are closed.",
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="To send a request's body, once headers came."
    )
    client_queue_bytes: int = Field(
        default=1 << 20,
        ge=4096,
        description="Bytes (characters of JSON) buffered per client before it is cut off; one "
        "larger event still passes alone.",
    )
    event_log_retention_seconds: int = Field(
        default=3600,
        ge=60,
        description="How long a job's event log lives after job-end (at most as long as its "
        "record); a later resume gets `events_expired` and the final record.",
    )

    def origin_list(self) -> frozenset[str]:
        return frozenset(_items(self.allowed_origins, lower=True))

    def operator_set(self) -> frozenset[str]:
        return frozenset(_items(self.operators))

    def host_list(self) -> frozenset[str]:
        return frozenset(_items(self.allowed_hosts, lower=True))

    def api_key_map(self) -> dict[str, str]:
        pairs = (item.strip() for item in self.api_keys.split(",") if item.strip())
        result: dict[str, str] = {}
        for pair in pairs:
            key, sep, user = pair.partition(":")
            if not sep or not key or not user:
                raise ValueError(f"EDGE_API_KEYS entry {pair!r} is not 'key:user'")
            if user.startswith(GUEST_PREFIX):  # a guest's name: it would share guest limits
                raise ValueError(f"EDGE_API_KEYS user {user!r}: {GUEST_PREFIX!r} names guests")
            result[key] = user
        return result


def _items(value: str, lower: bool = False) -> list[str]:
    items = (item.strip().rstrip("/") for item in value.split(","))
    return [item.lower() if lower else item for item in items if item]
