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
```
"""

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_POOLS_FILE = Path(__file__).with_name("pools.toml")
POOL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class ModelKind(StrEnum):
    chat = "chat"
    embeddings = "embeddings"


class PoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=POOL_NAME_PATTERN)
    kind: ModelKind
    engine: str = Field(description="A registered engine name, e.g. 'embeddings'.")
    model: str = Field(default="", description="What the engine loads: a name or a folder.")
    concurrency: int = Field(default=1, ge=1, le=256, description="Jobs one worker runs at once.")
    default: bool = Field(default=True, description="Started by `relayline up`.")
    options: dict[str, Any] = Field(default_factory=dict, description="Engine-specific options.")


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
