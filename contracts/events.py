"""The event union: everything a job's event log holds, in seq order.

Every event carries `job_id`, `seq` (1, 2, 3 ... within a job, no gaps) and `ts` (unix
seconds). Exactly one `job-end` closes every job; `job-reset` tells a client to drop the
output of an earlier attempt.
"""

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contracts.errors import ErrorDetail
from contracts.jobs import JobStatus


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    job_id: str
    seq: int = Field(ge=1)
    ts: float


class JobQueued(_EventBase):
    """The job was accepted; `position`: its place in its pool's queue, when known."""

    type: Literal["job-queued"] = "job-queued"
    position: int | None = None


class JobStart(_EventBase):
    """A worker took the job: `attempt` 1, or more after a worker died."""

    type: Literal["job-start"] = "job-start"
    attempt: int = Field(ge=1)
    worker: str


class TextDelta(_EventBase):
    """Generated text, possibly several tokens coalesced; append it to the answer."""

    type: Literal["text-delta"] = "text-delta"
    delta: str


class Progress(_EventBase):
    """How far a batch or long job is: `done` of `total`."""

    type: Literal["progress"] = "progress"
    done: int = Field(ge=0)
    total: int = Field(ge=0)


class JobReset(_EventBase):
    """A new attempt starts: drop the output of the earlier one."""

    type: Literal["job-reset"] = "job-reset"
    attempt: int = Field(ge=1)
    reason: str


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


EndStatus = Literal[JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled]


class JobEnd(_EventBase):
    """The last event, exactly once per job: `succeeded` with `output` and `usage`, or
    `failed`/`cancelled` with `error`."""

    type: Literal["job-end"] = "job-end"
    status: EndStatus
    output: Any = None
    usage: Usage | None = None
    error: ErrorDetail | None = None


Event = Annotated[
    JobQueued | JobStart | TextDelta | Progress | JobReset | JobEnd,
    Field(discriminator="type"),
]
EventAdapter: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: tuple[str, ...] = tuple(
    member.model_fields["type"].default for member in get_args(get_args(Event)[0])
)

TERMINAL_EVENT = "job-end"
