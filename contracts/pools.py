"""Pool definitions: which engine and model serve which pool.

One TOML file, shared by the edge (to validate requests and list models) and the workers (to
load their engine). The default file ships inside this package; point `RELAYLINE_POOLS` at
your own to change it:

```toml
[pools.embed]
kind = "embeddings"
engine = "embeddings"
model = "all-MiniLM-L6-v2"
concurrency = 1
max_seconds = 300            # a job running longer ends `failed` with `timeout`
max_output_bytes = 16777216  # the most output (as stored JSON) one job may produce
```

`max_seconds` and `max_output_bytes` bound what one job may cost, whoever sent it; left out,
they take the defaults of the pool's kind (`DEFAULT_LIMITS`).
"""

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POOLS_FILE = Path(__file__).with_name("pools.toml")
POOL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class ModelKind(StrEnum):
    chat = "chat"
    embeddings = "embeddings"


@dataclass(frozen=True)
class KindLimits:
    max_seconds: float
    max_output_bytes: int


DEFAULT_LIMITS = {
    # Chat: a long answer of a slow CPU model fits in ten minutes; 1 MiB of text is far more
    # than any context holds (the output is JSON-escaped text, see `max_output_bytes`).
    ModelKind.chat: KindLimits(max_seconds=600, max_output_bytes=1 << 20),
    # Embeddings: a vector of 384 floats takes ~8 KB as JSON, so 16 MiB holds the largest
    # request the contract allows (2048 texts) for all-MiniLM-L6-v2; wider vectors need
    # fewer texts per job or a larger cap.
    ModelKind.embeddings: KindLimits(max_seconds=300, max_output_bytes=16 << 20),
}


class PoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=POOL_NAME_PATTERN)
    kind: ModelKind
    engine: str = Field(description="A registered engine name, e.g. 'embeddings'.")
    model: str = Field(default="", description="What the engine loads: a name or a folder.")
    concurrency: int = Field(default=1, ge=1, le=1024, description="Jobs one worker runs at once.")
    default: bool = Field(default=True, description="Started by `relayline up`.")
    options: dict[str, Any] = Field(default_factory=dict, description="Engine-specific options.")
    max_seconds: float = Field(
        default=DEFAULT_LIMITS[ModelKind.chat].max_seconds,
        gt=0,
        le=86400,
        description="A job running longer ends `failed` with `timeout` (default: by kind).",
    )
    max_output_bytes: int = Field(
        default=DEFAULT_LIMITS[ModelKind.chat].max_output_bytes,
        ge=1024,
        le=256 << 20,
        description="The most output one job may produce, as stored JSON (default: by kind).",
    )

    @model_validator(mode="before")
    @classmethod
    def _limits_of_kind(cls, data: Any) -> Any:
        """Limits left out take the defaults of the pool's kind."""
        if isinstance(data, dict) and data.get("kind") in DEFAULT_LIMITS:
            defaults = DEFAULT_LIMITS[ModelKind(data["kind"])]
            data = {
                "max_seconds": defaults.max_seconds,
                "max_output_bytes": defaults.max_output_bytes,
                **data,
            }
        return data


class PoolsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pools: dict[str, PoolConfig]

    def get(self, name: str) -> PoolConfig | None:
        return self.pools.get(name)


class PoolsConfigError(ValueError):
    """The pools file is missing or does not describe valid pools."""


def load_pools(path: Path | None = None) -> PoolsConfig:
    path = path or DEFAULT_POOLS_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PoolsConfigError(f"cannot read pools file {path}: {exc}") from exc
    tables = raw.get("pools", {})
    try:
        return PoolsConfig(
            pools={name: PoolConfig(name=name, **table) for name, table in tables.items()}
        )
    except (ValidationError, TypeError) as exc:
        raise PoolsConfigError(f"invalid pools file {path}: {exc}") from exc
