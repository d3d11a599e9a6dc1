"""Messages on the multiplexed WebSocket `/v1/ws`.

The client sends `subscribe`, `unsubscribe`, `submit`, `cancel` and `ping`; the server sends
job events (see `contracts.events`) and `submitted`, `subscribed`, `unsubscribed`, `error`,
`pong`. `ref` is an optional client-chosen tag echoed back on the answer to that message.
"""

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contracts.jobs import ClientModel, JobRecord, JobRequest, SeqPosition

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"


class _ClientMessage(ClientModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    ref: str | None = Field(default=None, max_length=100)


class Subscribe(_ClientMessage):
    """Follow a job's events after seq `after` (0: from its first event)."""

    type: Literal["subscribe"] = "subscribe"
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    after: SeqPosition = 0


class Unsubscribe(_ClientMessage):
    """Stop following a job (it runs on)."""

    type: Literal["unsubscribe"] = "unsubscribe"
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class Submit(_ClientMessage):
    """Submit a job, as `POST /v1/jobs` does; unless `subscribe` is false, also follow it."""

    type: Literal["submit"] = "submit"
    request: JobRequest
    subscribe: bool = Field(default=True, description="Also subscribe to the new job.")


class Cancel(_ClientMessage):
    """Cancel a job: its worker stops generating. Nothing answers a cancel that worked: the
    job's `job-end` says `cancelled`."""

    type: Literal["cancel"] = "cancel"
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class Ping(_ClientMessage):
    """Answered with `pong`."""

    type: Literal["ping"] = "ping"


ClientMessage = Annotated[
    Subscribe | Unsubscribe | Submit | Cancel | Ping, Field(discriminator="type")
]
ClientMessageAdapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_MESSAGE_TYPES: tuple[str, ...] = tuple(
    member.model_fields["type"].default for member in get_args(get_args(ClientMessage)[0])
)


class _ServerMessage(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    ref: str | None = None


class Submitted(_ServerMessage):
    """The job of a `submit` is in Redis."""

    type: Literal["submitted"] = "submitted"
    job_id: str
    status: str


class Subscribed(_ServerMessage):
    """The job's events after `after` follow, each once, in seq order."""

    type: Literal["subscribed"] = "subscribed"
    job_id: str
    after: int


class Unsubscribed(_ServerMessage):
    """No more events of the job follow: after `unsubscribe`, or at once when none will
    ever come after `after`."""

    type: Literal["unsubscribed"] = "unsubscribed"
    job_id: str


class WireError(_ServerMessage):
    """A message failed: `code` and `message` as in HTTP errors; `job_id`: the job it
    concerns."""

    type: Literal["error"] = "error"
    code: str
    message: str
    job_id: str | None = None
    record: JobRecord | None = Field(
        default=None,
        description="With `events_expired`: the job's final record, output included.",
    )


class Pong(_ServerMessage):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"


ServerMessage = Annotated[
    Submitted | Subscribed | Unsubscribed | WireError | Pong, Field(discriminator="type")
]
SERVER_MESSAGE_TYPES: tuple[str, ...] = tuple(
    member.model_fields["type"].default for member in get_args(get_args(ServerMessage)[0])
)
