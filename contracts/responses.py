"""OpenAI's Responses API as Relayline takes it at `/v1/responses`: a chat job in another
vocabulary (the edge translates; there is no second job model).

`input` is a text, or a list of messages whose content is a text or a list of `input_text`
parts (`output_text` too, for an assistant's earlier answer); `instructions` becomes a system
message before them. A field OpenAI defines that no engine can honour (`tools`,
`previous_response_id`, `reasoning`, a JSON `text.format`...) is refused with
`unsupported_parameter`, naming it, unless it holds the one value that changes nothing
(`RESPONSES_HARMLESS`); so is any field this module does not know (`unknown_field`), since
a Responses client sends only what its caller asked for: nothing is silently ignored.
"""

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from contracts.jobs import MAX_SAFE_INTEGER, ClientModel
from contracts.openai import (
    MAX_MODEL_NAME,
    MAX_USER,
    UNSUPPORTED_PARAMETER,
    Number,
    StrictFlag,
    Tokens,
    refuse_unless_harmless,
)

RESPONSE_ID_PREFIX = "resp_"
"""A response's id is `resp_<job id>`: any edge resolves it, no table needed."""
MAX_STARTING_AFTER = MAX_SAFE_INTEGER
MAX_INPUT_ITEMS = 1000
MAX_METADATA_PAIRS = 16

MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]

RESPONSES_HARMLESS: dict[str, tuple[Any, ...]] = {
    "tools": ([],),
    "tool_choice": ("none", "auto"),
    "include": ([],),
    "previous_response_id": (),
    "conversation": (),
    "prompt": (),
    "reasoning": (),
    "text": ({"format": {"type": "text"}},),
    "truncation": ("disabled",),
    "top_logprobs": (0,),
    "max_tool_calls": (),
    "store": (True,),
    "background_options": (),
    "context_management": (),
    "image": (),
    "moderation": (),
    "access_programs": (),
}
"""Responses fields the engines cannot honour, with the values that change nothing (JSON
`null` too); any other value is refused. (`store: false` is refused: a response is always
kept, for its retention, like every job.)"""


_TEXT_KINDS = ("message", "input_text", "output_text")


class InputText(BaseModel):
    """A text part of a message's content (an assistant's earlier answer: `output_text`)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["input_text", "output_text"]
    text: str


class InputMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["message"] = "message"
    role: Literal["system", "developer", "user", "assistant"]
    content: str | Annotated[list[InputText], Field(max_length=MAX_INPUT_ITEMS)]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class _RefusedResponseFields(BaseModel):
    """OpenAI's Responses fields the engines cannot honour (`RESPONSES_HARMLESS`)."""

    tools: Any = None
    tool_choice: Any = None
    include: Any = None
    previous_response_id: Any = None
    conversation: Any = None
    prompt: Any = None
    reasoning: Any = None
    text: Any = None
    truncation: Any = None
    top_logprobs: Any = None
    max_tool_calls: Any = None
    store: Any = None
    background_options: Any = None
    context_management: Any = None
    image: Any = None
    moderation: Any = None
    access_programs: Any = None

    @field_validator(*RESPONSES_HARMLESS, mode="before")
    @classmethod
    def _refuse(cls, value: Any, info: ValidationInfo) -> Any:
        field = str(info.field_name)
        return refuse_unless_harmless(value, field, RESPONSES_HARMLESS[field])


class ResponseCreateRequest(ClientModel, _RefusedResponseFields):
    """`POST /v1/responses`. Unknown fields are kept aside (`extra="allow"`) only for the
    route to refuse the first by name (`unknown_field`), as `unsupported_parameter`."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    input: str | Annotated[list[InputMessage], Field(min_length=1, max_length=MAX_INPUT_ITEMS)] = (
        Field(description="A text, or 1 to 1000 messages.")
    )
    instructions: str | None = Field(default=None, description="A system message, first.")
    max_output_tokens: Tokens | None = None
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    top_p: Annotated[Number, Field(gt=0, le=1)] | None = None
    background: StrictFlag = False
    stream: StrictFlag = False
    metadata: dict[MetadataKey, MetadataValue] | None = Field(
        default=None, max_length=MAX_METADATA_PAIRS
    )
    parallel_tool_calls: StrictFlag | None = None  # there are no tools: changes nothing
    stream_options: dict[str, StrictFlag] | None = Field(default=None, max_length=4)
    user: str | None = Field(default=None, max_length=MAX_USER)
    safety_identifier: str | None = Field(default=None, max_length=MAX_USER)
    prompt_cache_key: str | None = Field(default=None, max_length=MAX_USER)
    prompt_cache_retention: str | None = Field(default=None, max_length=MAX_USER)
    service_tier: str | None = Field(default=None, max_length=MAX_USER)

    @field_validator("input", mode="before")
    @classmethod
    def _text_items_only(cls, value: Any) -> Any:
        """Input items other than messages, and content parts other than text (images,
        files, tool outputs), are refused by name before the shape is checked."""
        if not isinstance(value, list):
            return value
        for index, item in enumerate(value[:MAX_INPUT_ITEMS]):
            if not isinstance(item, dict):
                continue
            kind = item.get("type", "message")
            parts = item.get("content")
            kinds = (
                [p.get("type") for p in parts if isinstance(p, dict)]
                if isinstance(parts, list)
                else []
            )
            other = next((k for k in (kind, *kinds) if k not in _TEXT_KINDS), None)
            if other is not None:
                raise PydanticCustomError(
                    UNSUPPORTED_PARAMETER,
                    "Unsupported input: input[{index}] holds {kind}; only messages with text "
                    "(input_text) are supported",
                    {"index": index, "kind": json.dumps(other)[:60]},
                )
        return value

    def unknown_field(self) -> str | None:
        """The first field the request holds that this contract does not know."""
        return next(iter(self.model_extra or {}), None)

    def messages(self) -> list[dict[str, str]]:
        """The chat job's messages: `instructions` as a system message first; `developer`
        read as `system`, as at `/v1/chat/completions`."""
        messages = []
        if self.instructions is not None:
            messages.append({"role": "system", "content": self.instructions})
        if isinstance(self.input, str):
            messages.append({"role": "user", "content": self.input})
        else:
            for message in self.input:
                role = "system" if message.role == "developer" else message.role
                messages.append({"role": role, "content": message.text()})
        return messages

    def params(self) -> dict[str, Any]:
        params = {
            "max_tokens": self.max_output_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        return {key: value for key, value in params.items() if value is not None}


SETTINGS_FIELD = "response"
"""The field of the job record holding its `ResponseSettings` JSON: it lives and is
deleted with the record."""


class ResponseSettings(BaseModel):
    """What a response echoes of its request, kept in its job's record (`SETTINGS_FIELD`)
    so any edge can show it: the Response object's `instructions`, `metadata`, sampling
    settings, `background`."""

    model_config = ConfigDict(extra="ignore")

    background: bool = False
    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
