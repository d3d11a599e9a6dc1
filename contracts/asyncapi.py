"""The AsyncAPI 3.0 document of Relayline's message interfaces, built from the contracts.

Two channels: the multiplexed WebSocket `/v1/ws` (every client message of `contracts.wire`,
every server reply, every event of `contracts.events`) and a pool's job streams (the
`JobEnvelope` the edge writes and a worker reads through the group `workers`; the worker's
own FastStream app describes the same streams, and a test holds the two together). Operations
are named from the side that serves them: the edge receives `submit` and sends events; a
worker receives jobs. `python -m contracts.generate` writes it to
`contracts/schema/asyncapi.json`, which the edge serves at `/asyncapi.json`.
"""

import inspect
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from contracts import errors, events, jobs, wire
from contracts.jsonschema import ContractJsonSchema, tidy
from contracts.keys import GROUP, Keys, shard_tags

VERSION = "3.0.0"
FILE_NAME = "asyncapi.json"
COMMITTED = Path(__file__).with_name("schema") / FILE_NAME
"""The document as `python -m contracts.generate` wrote it (package data: the edge serves it)."""
SCHEMAS = "#/components/schemas/{model}"
WS_CHANNEL = "websocket"
JOBS_CHANNEL = "jobStreams"


def members(union: Any) -> list[type[BaseModel]]:
    """The models of a discriminated union (`Annotated[A | B, Field(...)]`)."""
    return list(get_args(get_args(union)[0]))


def message_type(model: type[BaseModel]) -> str:
    """The `type` discriminator's value of one member of a union."""
    return str(model.model_fields["type"].default)


def _doc(model: type[BaseModel]) -> str:
    """A model's own docstring (not one inherited from its base), or ''."""
    return inspect.cleandoc(model.__dict__.get("__doc__") or "")


def _schemas() -> dict[str, Any]:
    """Every payload's JSON Schema, in `components.schemas`."""
    sent: list[type[BaseModel]] = [
        *members(wire.ServerMessage),
        *members(events.Event),
        jobs.JobEnvelope,
    ]
    validation: JsonSchemaMode = "validation"
    serialization: JsonSchemaMode = "serialization"
    inputs = [(model, validation) for model in members(wire.ClientMessage)]
    inputs += [(model, serialization) for model in sent]
    _, top = TypeAdapter.json_schemas(
        [(model, mode, TypeAdapter[Any](model)) for model, mode in inputs],
        ref_template=SCHEMAS,
        schema_generator=ContractJsonSchema,
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    for definition in definitions.values():
        tidy(definition, typescript=False)
    return dict(sorted(definitions.items()))


def _message(model: type[BaseModel], summary: str, schemas: dict[str, Any]) -> dict[str, Any]:
    name = model.__name__
    schema_name = name if name in schemas else f"{name}-Input"
    message = {
        "name": message_type(model) if "type" in model.model_fields else name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": SCHEMAS.format(model=schema_name)},
    }
    if description := _doc(model):
        message["description"] = description
    return message


def _ws_messages(schemas: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every message on the WebSocket, by model name."""
    sides = (
        (wire.ClientMessage, "client → edge: `{}`"),
        (wire.ServerMessage, "edge → client: `{}`"),
        (events.Event, "edge → client, job event `{}`"),
    )
    return {
        model.__name__: _message(model, summary.format(message_type(model)), schemas)
        for union, summary in sides
        for model in members(union)
    }


def jobs_address() -> str:
    """A job stream's key (`Keys.jobs`) with its shard's tag and pool as parameters."""
    keys = Keys()
    tag = "{" + shard_tags(keys.shards)[0] + "}"
    return keys.jobs("{pool}", 0).replace(tag, "{shard}", 1)


REPLIES: dict[str, tuple[str, ...]] = {
    "submit": ("Submitted", "WireError"),
    "subscribe": ("Subscribed", "Unsubscribed", "WireError"),
    "unsubscribe": ("Unsubscribed", "WireError"),
    "cancel": ("WireError",),
    "ping": ("Pong", "WireError"),
}
"""What the edge answers to each client message (an `error` to any that fails)."""


def _ws_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{WS_CHANNEL}/messages/{name}"}


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    channel = {"$ref": f"#/channels/{WS_CHANNEL}"}
    for model in members(wire.ClientMessage):
        kind = message_type(model)
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": channel,
            "summary": f"A client sends `{kind}`.",
            "messages": [_ws_ref(model.__name__)],
        }
        if replies := REPLIES.get(kind):
            operation["reply"] = {
                "channel": channel,
                "messages": [_ws_ref(name) for name in replies],
            }
        operations[f"receive-{kind}"] = operation
    operations["send-events"] = {
        "action": "send",
        "channel": channel,
        "summary": "Each event of a subscribed job, in seq order, once.",
        "messages": [_ws_ref(model.__name__) for model in members(events.Event)],
    }
    operations["take-job"] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{JOBS_CHANNEL}"},
        "summary": "A worker of the pool takes a job through the group "
        f"`{GROUP}` (the edge appends it).",
        "messages": [{"$ref": f"#/channels/{JOBS_CHANNEL}/messages/JobEnvelope"}],
    }
    return operations


_WS_DESCRIPTION = f"""One connection carries any number of jobs. Authenticate with \
`Authorization: Bearer <key>`, a guest cookie, or a ticket from `POST /v1/tickets` \
(`?ticket=...`). `ref` is an optional tag a client puts on a message; the reply to that \
message carries it back. After `subscribe {{job_id, after}}` the edge sends `subscribed`, then \
every event with a seq past `after`, ending with `job-end` (then nothing more for that job). \
Close codes: {errors.WS_CLOSE_UNAUTHORIZED} no valid identity; {errors.WS_CLOSE_SLOW_CONSUMER} \
the client did not read its events; {errors.WS_CLOSE_TOO_MANY} over one of the user's limits \
(back off); {errors.WS_CLOSE_TRY_AGAIN_LATER} the edge is full (reconnect, to any edge); 1001 \
the edge is shutting down."""

_JOBS_DESCRIPTION = f"""One Redis stream per pool and shard; `shard` is the shard's hash tag, \
braces included (e.g. `{{3}}`), and the prefix is `{Keys().prefix}` unless configured. The \
edge appends each accepted job; the pool's workers read it through the consumer group \
`{GROUP}` and acknowledge it once its `job-end` is written. Events go to the job's own log, \
read by the edges (`GET /v1/jobs/{{id}}/events`, `/v1/ws`)."""


def document() -> dict[str, Any]:
    """The whole AsyncAPI document, as JSON-ready data."""
    schemas = _schemas()
    ws_messages = _ws_messages(schemas)
    envelope = _message(jobs.JobEnvelope, "edge → worker: a job to run", schemas)
    return {
        "asyncapi": VERSION,
        "info": {
            "title": "Relayline message interfaces",
            "version": "0.1.0",
            "description": "The WebSocket protocol of the edge and the job streams its "
            "workers read. The HTTP API is at `/openapi.json`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "edge": {"host": "127.0.0.1:8000", "protocol": "ws", "pathname": "/"},
            "redis": {"host": "127.0.0.1:6379", "protocol": "redis"},
        },
        "channels": {
            WS_CHANNEL: {
                "address": "/v1/ws",
                "title": "The multiplexed WebSocket",
                "description": _WS_DESCRIPTION,
                "servers": [{"$ref": "#/servers/edge"}],
                "messages": {
                    name: {"$ref": f"#/components/messages/{name}"} for name in ws_messages
                },
            },
            JOBS_CHANNEL: {
                "address": jobs_address(),
                "title": "A pool's job streams",
                "description": _JOBS_DESCRIPTION,
                "servers": [{"$ref": "#/servers/redis"}],
                "parameters": {
                    "shard": {"description": "The shard's hash tag, braces included."},
                    "pool": {"description": "The pool's name (the `model` of a request)."},
                },
                "messages": {"JobEnvelope": {"$ref": "#/components/messages/JobEnvelope"}},
                "bindings": {
                    "redis": {
                        "method": "xreadgroup",
                        "groupName": GROUP,
                        "bindingVersion": "custom",
                    }
                },
            },
        },
        "operations": _operations(),
        "components": {
            "messages": {**ws_messages, "JobEnvelope": envelope},
            "schemas": schemas,
        },
    }
