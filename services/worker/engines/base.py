"""What an engine is: a small protocol the runner drives.

An engine is loaded once per process, then asked to `stream(job)` for every job: it yields
`Text` pieces as they are generated, `Progress` for long work and one `Result` at the end.
The runner turns these into events, coalesces text, writes the log and handles cancel: an
engine is cancelled by closing its iterator (`aclose`), so it must stop its model there.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.events import Usage
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig


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
