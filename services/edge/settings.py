from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.pools import DEFAULT_POOLS_FILE


class Settings(BaseSettings):
    """The edge's settings: environment variables prefixed `EDGE_`, plus the shared ones
    (`REDIS_URL`, `RELAYLINE_PREFIX`, `RELAYLINE_POOLS`)."""

    model_config = SettingsConfigDict(env_prefix="EDGE_", extra="ignore")

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("EDGE_REDIS_URL", "REDIS_URL"),
    )
    key_prefix: str = Field(
        default="rl:", validation_alias=AliasChoices("EDGE_KEY_PREFIX", "RELAYLINE_PREFIX")
    )
    pools_file: Path = Field(
        default=DEFAULT_POOLS_FILE,
        validation_alias=AliasChoices("EDGE_POOLS_FILE", "RELAYLINE_POOLS"),
    )
    api_keys: str = Field(default="", description="'key1:alice,key2:bob': bearer keys to users.")
    guest_mode: bool = Field(default=False, description="Give each browser its own user id.")
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    client_queue_size: int = Field(
        default=1024, ge=16, description="Events buffered per client before it is cut off."
    )
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
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
    redis_max_connections: int = Field(
        default=200, ge=4, description="Connections to Redis; callers wait when all are busy."
    )
    reader_block_ms: int = Field(default=1000, ge=10, le=60000)
    web_dist: Path | None = Field(default=None, description="The built SPA to serve at /.")
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

    def api_key_map(self) -> dict[str, str]:
        pairs = (item.strip() for item in self.api_keys.split(",") if item.strip())
        result: dict[str, str] = {}
        for pair in pairs:
            key, sep, user = pair.partition(":")
            if not sep or not key or not user:
                raise ValueError(f"EDGE_API_KEYS entry {pair!r} is not 'key:user'")
            result[key] = user
        return result
