"""`GET /v1/models`: the pools, in OpenAI's list shape, with live worker counts."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.pools import ModelKind


class ModelInfo(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "relayline"
    kind: ModelKind
    engine: str
    workers: int
    queued: int
    done: int = Field(description="Jobs of this pool that ended so far (for throughput).")


class ModelList(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    object: Literal["list"] = "list"
    data: list[ModelInfo]


class ModelLimits(BaseModel):
    """What the workers of a pool publish about their model, so edges can check requests
    before they queue them: the context length and, for chat models, the tokenizer (the
    `tokenizers` JSON) with the chat template's overhead in tokens."""

    max_context: int
    tokenizer: str | None = None
    overhead_fixed: int = 0
    overhead_per_message: int = 0
