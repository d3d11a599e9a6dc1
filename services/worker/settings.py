import os
import socket
import uuid
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.connect import service_url
from contracts.durability import WaitReplicas, WaitTimeoutMs
from contracts.keys import DEFAULT_SHARDS, KeyPrefix, ShardCount
from contracts.pools import DEFAULT_POOLS_FILE
from contracts.usage import DEFAULT_QUOTA_WINDOW_SECONDS, QuotaWindowSeconds


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Settings(BaseSettings):
    """The worker's settings: environment variables prefixed `WORKER_`, plus the shared ones
    (`REDIS_URL`, `RELAYLINE_PREFIX`, `RELAYLINE_POOLS`)."""

    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore")

    pool: str = Field(default="embed", description="The pool this process serves.")
    redis_url: Annotated[str, AfterValidator(service_url)] = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("WORKER_REDIS_URL", "REDIS_URL"),
    )
    key_prefix: KeyPrefix = Field(
        default="rl:", validation_alias=AliasChoices("WORKER_KEY_PREFIX", "RELAYLINE_PREFIX")
    )
    shards: ShardCount = Field(
        default=DEFAULT_SHARDS,
        validation_alias=AliasChoices("WORKER_SHARDS", "RELAYLINE_SHARDS"),
        description="Shards of the key layout (S); fixed when a deployment first uses Redis.",
    )
    pools_file: Path = Field(
        default=DEFAULT_POOLS_FILE,
        validation_alias=AliasChoices("WORKER_POOLS_FILE", "RELAYLINE_POOLS"),
    )
    worker_id: str = Field(default_factory=_default_worker_id)
    concurrency: int | None = Field(
        default=None, ge=1, le=1024, description="Jobs run at once; default: the pool's setting."
    )
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    coalesce_ms: int = Field(
        default=30, ge=0, le=1000, description="Text deltas are merged into one event this often."
    )
    cancel_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often a silent job checks for a cancel."
    )
    event_retention_seconds: int = Field(default=86400, ge=60)
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A job whose worker stops renewing it this long is reclaimed.",
    )
    max_deliveries: int = Field(
        default=3, ge=1, description="Deliveries before a job goes to the dead-letter stream."
    )
    reaper_interval_seconds: float = Field(default=2.0, gt=0)
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve Prometheus metrics on this port (off when unset).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        description="The address the metrics port listens on (0.0.0.0 in a container).",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="On SIGTERM, running jobs get this long to finish."
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
        default=100, ge=4, description="Connections to Redis; callers wait when all are busy."
    )
    polling_interval_ms: int = Field(default=1000, ge=10)
    batch_aging_seconds: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        allow_inf_nan=False,
        description="While interactive jobs keep a pool busy, a batch job is still taken once "
        "batch jobs have waited this long since one was last taken, or since they began to "
        "wait (per shard).",
    )
    quota_window_seconds: QuotaWindowSeconds = Field(
        default=DEFAULT_QUOTA_WINDOW_SECONDS,
        validation_alias=AliasChoices(
            "WORKER_QUOTA_WINDOW_SECONDS", "RELAYLINE_QUOTA_WINDOW_SECONDS"
        ),
        description="The token quota window the jobs' usage is charged to; the edges' length.",
    )
