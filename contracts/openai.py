"""The OpenAI-compatible request shapes accepted at `/v1/chat/completions` and
`/v1/embeddings`.

`tools`, `tool_choice`, `response_format`, `logprobs`, `top_logprobs` and `n` are typed and
bounded as `contracts.passthrough` says and become the job's params: a pool whose engine
forwards them (`openai`) passes them upstream, any other refuses them at submit with
`unsupported_parameter`, unless the value changes nothing. A field OpenAI defines that no
engine honours (`logit_bias`, audio...) is refused with `unsupported_parameter`, naming it,
unless it holds the one value that changes nothing (see `HARMLESS`). Fields that change
nothing whatever they hold (`user`, `metadata`, `store`, `parallel_tool_calls`) are accepted
and ignored, and so is any field not declared here. Booleans and numbers are strict: `"yes"`,
`1` for a boolean, `true` or `"1"` for a number are refused, never coerced."""

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from contracts.errors import ErrorCode
from contracts.jobs import (
    MAX_TOKENS,
    ClientModel,
    Seed,
    StopList,
    StopSequence,
)
from contracts.passthrough import PARAMS as PASSTHROUGH_PARAMS
from contracts.passthrough import Choices, ResponseFormat, ToolChoice, Tools, TopLogprobs

MAX_MODEL_NAME = 100
MAX_USER = 256
UNSUPPORTED_PARAMETER = ErrorCode.unsupported_parameter.value
"""The pydantic error type (and the error's `code`) of a refused field."""

StrictFlag = Annotated[bool, Strict()]
Tokens = Annotated[int, Strict(), Field(ge=1, le=MAX_TOKENS)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]

HARMLESS: dict[str, tuple[Any, ...]] = {
    "functions": ([],),
    "function_call": ("none", "auto"),
    "modalities": (["text"],),
    "audio": (),
    "prediction": (),
    "logit_bias": ({},),
    "presence_penalty": (0, 0.0),
    "frequency_penalty": (0, 0.0),
    "reasoning_effort": (),
    "web_search_options": (),
}
"""Chat fields no engine honours, with the values that change nothing (JSON `null` too); any
other value is refused. (Those only some engines honour: `contracts.passthrough`.)"""


def _same(value: Any, harmless: Any) -> bool:
    """Equal and of one JSON type: `true` is not `1`, `"1"` is not `1`. (The harmless values
    hold no numbers inside, so the type of the whole settles it.)"""
    return type(value) is type(harmless) and bool(value == harmless)


def refuse_unless_harmless(value: Any, field: str, harmless: tuple[Any, ...]) -> Any:
    """`value`, if it is null or one of the field's `harmless` values; else the refusal,
    `unsupported_parameter` naming the field (chat completions and Responses alike)."""
    if value is None or any(_same(value, allowed) for allowed in harmless):
        return value
    only = " or ".join(json.dumps(allowed) for allowed in harmless)
    raise PydanticCustomError(
        UNSUPPORTED_PARAMETER,
        "Unsupported parameter: '{field}' is not supported by Relayline{only}",
        {"field": field, "only": f"; only {only} is accepted" if only else ""},
    )


class _OpenAIRequest(ClientModel):
    """OpenAI's clients send fields we do not use: ignored, not refused."""

    model_config = ConfigDict(extra="ignore")


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The content as text: a list of parts is joined from its `text` parts."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content)
        return self.content or ""

    @field_validator("content")
    @classmethod
    def _text_parts_only(
        cls, content: str | list[dict[str, Any]] | None
    ) -> str | list[dict[str, Any]] | None:
        if isinstance(content, list):
            for part in content:
                if part.get("type") != "text":
                    raise ValueError("only text content parts are supported")
        return content


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictFlag = False


def _refused(allowed: str) -> Any:
    return Field(default=None, description=f"Refused (`unsupported_parameter`) {allowed}.")


class _RefusedChatFields(BaseModel):
    """OpenAI's chat fields no engine honours (`HARMLESS`)."""

    functions: Any = _refused("unless empty")
    function_call: Any = _refused('unless "none" or "auto"')
    modalities: Any = _refused('unless `["text"]`')
    audio: Any = _refused("always")
    prediction: Any = _refused("always")
    logit_bias: Any = _refused("unless empty")
    presence_penalty: Any = _refused("unless 0")
    frequency_penalty: Any = _refused("unless 0")
    reasoning_effort: Any = _refused("always")
    web_search_options: Any = _refused("always")

    @field_validator(*HARMLESS, mode="before")
    @classmethod
    def _refuse(cls, value: Any, info: ValidationInfo) -> Any:
        field = str(info.field_name)
        return refuse_unless_harmless(value, field, HARMLESS[field])


class ChatCompletionRequest(_OpenAIRequest, _RefusedChatFields):
    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=1000)
    stream: StrictFlag = False
    stream_options: StreamOptions | None = None
    max_tokens: Tokens | None = None
    max_completion_tokens: Tokens | None = None
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    top_p: Annotated[Number, Field(gt=0, le=1)] | None = None
    seed: Annotated[Seed, Strict()] | None = None
    stop: StopSequence | StopList | None = None
    user: str | None = Field(default=None, max_length=MAX_USER)
    # forwarded by `openai`-engine pools, refused by the others (`contracts.passthrough`)
    tools: Tools | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictFlag | None = None
    top_logprobs: TopLogprobs | None = None
    n: Choices | None = None
    # accepted and ignored: they change nothing here
    parallel_tool_calls: StrictFlag | None = None
    store: StrictFlag | None = None
    metadata: dict[str, str] | None = None


class EmbeddingsRequest(_OpenAIRequest):
    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    input: str | list[str] = Field(description="A text, or at most 2048 texts.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Strict(), Field(ge=1, le=65536)] | None = None
    user: str | None = Field(default=None, max_length=MAX_USER)

    @field_validator("input")
    @classmethod
    def _few_texts(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not 1 <= len(value) <= 2048:
            raise ValueError("input holds 1 to 2048 texts")
        return value


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape, used by every error of the OpenAI-compatible routes."""

    error: OpenAIErrorDetail


def passthrough_params(request: ChatCompletionRequest) -> dict[str, Any]:
    """The job params of the fields only some engines honour, as JSON data (unset: left out)."""
    return request.model_dump(mode="json", include=set(PASSTHROUGH_PARAMS), exclude_none=True)
