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
    type: Literal["subscribe"] = "subscribe"
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    after: SeqPosition = 0


class Unsubscribe(_ClientMessage):
    type: Literal["unsubscribe"] = "unsubscribe"
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class Submit(_ClientMessage):
    type: Literal["submit"] = "submit"
    request: JobRequest
    subscribe: bool = Field(default=True, description="Also subscribe to the new job.")


class Cancel(_ClientMessage):
    type: Literal["cancel"] = "cancel"
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class Ping(_ClientMessage):
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
    type: Literal["submitted"] = "submitted"
    job_id: str
    status: str


class Subscribed(_ServerMessage):
    type: Literal["subscribed"] = "subscribed"
    job_id: str
    after: int


class Unsubscribed(_ServerMessage):
    type: Literal["unsubscribed"] = "unsubscribed"
    job_id: str


class WireError(_ServerMessage):
    type: Literal["error"] = "error"
    code: str
    message: str
    job_id: str | None = None
    record: JobRecord | None = Field(
        default=None,
        description="With `events_expired`: the job's final record, output included.",
    )


class Pong(_ServerMessage):
    type: Literal["pong"] = "pong"


ServerMessage = Annotated[
    Submitted | Subscribed | Unsubscribed | WireError | Pong, Field(discriminator="type")
]
