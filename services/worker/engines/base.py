"""What an engine is: a small protocol the runner drives.

An engine is loaded once per process, then asked to `stream(job)` for every job: it yields
`Text` pieces as they are generated, `Progress` for long work and one `Result` at the end.
The runner turns these into events, coalesces text, writes the log and handles cancel: an
engine is cancelled by closing its iterator (`aclose`), so it must stop its model there.

The pool bounds every job (`PoolConfig.max_seconds`, `max_output_bytes`); the runner enforces
both whatever the engine does, and engines stop early and cleanly where they can: a chat
engine cuts its text with `fit_text` and finishes with `finish_reason: "length"`.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from contracts.errors import ErrorCode
from contracts.events import Usage
from contracts.jobs import ChatParams
from contracts.models import ModelLimits
from contracts.passthrough import first_changing
from contracts.pools import ModelKind, PoolConfig
from worker.errors import EngineError


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class Result:
    output: Any
    usage: Usage = field(default_factory=Usage)


Emit = Text | Progress | Result


@dataclass(frozen=True, slots=True)
class JobContext:
    id: str
    input: dict[str, Any]
    params: dict[str, Any]
    attempt: int


class Engine(Protocol):
    kind: ModelKind

    async def load(self) -> None:
        """Load the model; called once before the first job."""

    def limits(self) -> ModelLimits:
        """What requests must respect (the context, the tokenizer), published for edges."""

    def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        """Run one job."""


class EngineFactory(Protocol):
    def __call__(self, pool: PoolConfig) -> Engine: ...


RESULT_RESERVE = 64
"""Bytes kept for the rest of a result around its bulk: `{"text": …, "finish_reason":
"length"}` of a chat, `{"embeddings": [...], "dimensions": 384}` of embeddings."""


def output_size(output: Any) -> int:
    """The bytes `output` takes as stored JSON."""
    return len(to_json(output))


def text_size(text: str) -> int:
    """The bytes `text` takes inside a JSON string (UTF-8, escapes included)."""
    return len(to_json(text)) - 2


def text_room(max_output_bytes: int) -> int:
    """The bytes of text a chat result may hold under `max_output_bytes`."""
    return max(0, max_output_bytes - RESULT_RESERVE)


def fit_text(text: str, room: int) -> str:
    """The longest prefix of `text` whose `text_size` is at most `room`."""
    if text_size(text) <= room:
        return text
    low, high = 0, len(text)  # text[:low] fits, text[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if text_size(text[:middle]) <= room else (low, middle)
    return text[:low]


M = TypeVar("M", bound=BaseModel)


def checked(model: type[M], value: Any, name: str) -> M:
    """`value` checked again against the contract: the worker never trusts what reaches it.
    A mismatch ends the job `failed` with `invalid_request`. For params (a flat dict), fields
    this worker does not know are ignored, so a newer edge can add some."""
    if name == "params" and isinstance(value, dict):
        value = {key: item for key, item in value.items() if key in model.model_fields}
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (name, *first["loc"]))
        raise EngineError(f"{where}: {first['msg']}", ErrorCode.invalid_request) from None


def chat_params(params: dict[str, Any], *, forwards: bool = False) -> ChatParams:
    """The contract's checks again (seed, max_tokens, stop, … in range): a job written by an
    older edge, or straight into Redis, cannot reach a model with a value it would choke on.
    An engine that does not forward `contracts.passthrough`'s params to an upstream ends a
    job holding one (that the edge would have refused) `failed`, never ignoring it."""
    checked_params = checked(ChatParams, params, "params")
    as_json = checked_params.model_dump(mode="json", exclude_none=True)
    if not forwards and (name := first_changing(as_json)) is not None:
        raise EngineError(
            f"params.{name}: this engine cannot honour it", ErrorCode.unsupported_parameter
        )
    return checked_params
