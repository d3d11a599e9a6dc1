"""The event union: everything a job's event log holds, in seq order.

Every event carries `job_id`, `seq` (1, 2, 3 ... within a job, no gaps) and `ts` (unix
seconds). Exactly one `job-end` closes every job; `job-reset` tells a client to drop the
output of an earlier attempt.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contracts.errors import ErrorDetail
from contracts.jobs import JobStatus


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    job_id: str
    seq: int = Field(ge=1)
    ts: float


class JobQueued(_EventBase):
    type: Literal["job-queued"] = "job-queued"
    position: int | None = None


class JobStart(_EventBase):
    type: Literal["job-start"] = "job-start"
    attempt: int = Field(ge=1)
    worker: str


class TextDelta(_EventBase):
    type: Literal["text-delta"] = "text-delta"
    delta: str


class Progress(_EventBase):
    type: Literal["progress"] = "progress"
    done: int = Field(ge=0)
    total: int = Field(ge=0)


class JobReset(_EventBase):
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

TERMINAL_EVENT = "job-end"
