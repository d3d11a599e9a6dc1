"""Job requests, the job record and its status."""

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_IDEMPOTENCY_KEY = 200


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class JobRequest(BaseModel):
    """What a client submits. `input` and `params` are checked against the model's kind."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=100, description="A pool name from /v1/models.")
    input: dict[str, Any] = Field(
        description='chat: {"messages": [...]}; embeddings: {"texts": [...]}'
    )
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)

    @field_validator("messages")
    @classmethod
    def _has_content(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(message.content.strip() for message in messages):
            raise ValueError("at least one message must have non-empty content")
        return messages


class ChatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences")
        return stop


class EmbeddingsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=2048)

    @field_validator("texts")
    @classmethod
    def _non_empty(cls, texts: list[str]) -> list[str]:
        for index, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"texts[{index}] is empty")
        return texts


class EmbeddingsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    normalize: bool = True


class JobAccepted(BaseModel):
    """The 202 answer to a submit: the job is in Redis."""

    id: str
    status: JobStatus


class JobRecord(BaseModel):
    """One job as its owner sees it."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    model: str
    status: JobStatus
    attempt: int = 0
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    worker: str | None = None
    last_seq: int = 0
    output: Any = None
    usage: dict[str, int] | None = None
    error: dict[str, str] | None = None


class JobList(BaseModel):
    data: list[JobRecord]
    next_cursor: str | None = None


class JobEnvelope(BaseModel):
    """What the edge writes to a pool's job stream for the workers."""

    id: str
    owner: str
    model: str
    input: dict[str, Any]
    params: dict[str, Any] = Field(default_factory=dict)
