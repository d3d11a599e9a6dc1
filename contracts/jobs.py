"""Job requests, the job record and its status."""

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contracts.passthrough import Choices, ResponseFormat, ToolChoice, Tools, TopLogprobs

MAX_IDEMPOTENCY_KEY = 200
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JavaScript number holds exactly: the bound of every integer a
client sends (seq positions, seeds), so the same value means the same thing in TypeScript,
JSON Schema, Python and Redis (whose stream ids take at most 2^64 - 1)."""
MAX_TOKENS = 32768
MAX_STOP_LENGTH = 256

SeqPosition = Annotated[
    int,
    Field(ge=0, le=MAX_SAFE_INTEGER, description="The last seq seen; events after it follow."),
]
"""A position in a job's event log as a client states it: 0 is before the first event."""

Seed = Annotated[int, Strict(), Field(ge=0, le=MAX_SAFE_INTEGER)]
StopSequence = Annotated[str, Field(min_length=1, max_length=MAX_STOP_LENGTH)]
StopList = Annotated[list[StopSequence], Field(max_length=4)]


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string in `value` (keys included) holds a lone surrogate. JSON's own
    encoder walks a JSON-shaped value in C (for a body of 170,000 small arrays 7x faster
    than the walk below) and keeps a lone surrogate, which UTF-8 then refuses; anything
    else is walked with a stack of its own, not recursion: a body nested a few hundred
    levels deep (which the JSON parser takes) must be a 4xx, not a RecursionError."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError, RecursionError):  # not JSON-shaped, or too deep
        return _walk_for_lone_surrogate(value)
    return False


def _walk_for_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def reject_lone_surrogates(value: Any) -> Any:
    """A before-validator for what a client sends: JSON may escape a lone UTF-16 surrogate
    (`"\\ud800"`), which is no Unicode text and cannot be stored or sent on; refuse it."""
    if _has_lone_surrogate(value):
        raise ValueError("the text holds a lone UTF-16 surrogate: it is not valid Unicode")
    return value


class ClientModel(BaseModel):
    """The base of every model a client sends: unknown fields and lone surrogates refused."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, value: Any, info: ValidationInfo) -> Any:
        if info.mode == "json":  # pydantic's JSON parser refuses lone surrogates itself
            return value
        return reject_lone_surrogates(value)


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class Priority(StrEnum):
    """How a pool orders a job among those waiting: every `interactive` job that waits is
    served before a `batch` one, except a batch job that has waited the pool's aging time."""

    interactive = "interactive"
    batch = "batch"


class JobRequest(ClientModel):
    """What a client submits. `input` and `params` are checked against the model's kind."""

    model: str = Field(min_length=1, max_length=100, description="A pool name from /v1/models.")
    input: dict[str, Any] = Field(
        description='chat: {"messages": [...]}; embeddings: {"texts": [...]}'
    )
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)
    priority: Priority = Field(
        default=Priority.interactive,
        description="`batch` for background work: it waits while interactive jobs do.",
    )


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

    max_tokens: Annotated[int, Strict()] | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: Annotated[float, Strict()] | None = Field(
        default=None, ge=0, le=2, allow_inf_nan=False
    )
    top_p: Annotated[float, Strict()] | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    seed: Seed | None = None
    stop: StopSequence | StopList | None = None
    # Forwarded by `openai`-engine pools only, refused by the others (`contracts.passthrough`).
    tools: Tools | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    logprobs: Annotated[bool, Strict()] | None = None
    top_logprobs: TopLogprobs | None = None
    n: Choices | None = None


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

    normalize: Annotated[bool, Strict()] = True


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
    priority: Priority = Priority.interactive
    position: int | None = Field(
        default=None,
        description="While queued: the jobs its pool serves before it from its shard's queue "
        "(0: next). The pool's workers take from every shard in turn.",
    )
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


QUEUE_REPORT_USERS = 100
"""The most accounts a pool's queue report lists."""


class UserQueue(BaseModel):
    """One account's jobs waiting in one pool."""

    user: str
    interactive: int
    batch: int


class PoolQueue(BaseModel):
    """What waits in one pool, in total and by account (operators only): the accounts with
    the most jobs waiting, at most `QUEUE_REPORT_USERS` of them, most first."""

    pool: str
    interactive: int
    batch: int
    users: list[UserQueue]
    other_users: int = Field(
        default=0, description="Accounts with jobs waiting that `users` leaves out."
    )


class QueueReport(BaseModel):
    """`GET /v1/queue`: every pool's waiting jobs by account."""

    data: list[PoolQueue]


class JobEnvelope(BaseModel):
    """What the edge writes to a pool's job stream for the workers."""

    id: str
    owner: str
    model: str
    input: dict[str, Any]
    params: dict[str, Any] = Field(default_factory=dict)
    trace: dict[str, str] = Field(
        default_factory=dict,
        description="The submit's trace context (W3C `traceparent`, `tracestate`), when the "
        "edge traces (contracts.telemetry); empty otherwise.",
    )
