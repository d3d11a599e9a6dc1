"""Chat params only an engine that relays to an OpenAI-compatible server can honour.

`tools`, `tool_choice`, `response_format`, `logprobs`, `top_logprobs` and `n` are forwarded,
as given, by pools whose engine is one of `FORWARDING_ENGINES` (`openai`: vLLM, OpenAI,
another Relayline edge...). Any other pool refuses them with `400 unsupported_parameter`
when it is submitted, unless the value changes nothing (`HARMLESS`): they are never ignored.

Each is bounded here, whoever sends it: at most `MAX_TOOLS` tools, JSON Schemas at most
`MAX_SCHEMA_DEPTH` levels deep and `MAX_SCHEMA_NODES` values in all, `n` from 1 to
`MAX_CHOICES`, `top_logprobs` from 0 to 20 (OpenAI's own bounds, or tighter).
"""

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Strict, Tag

FORWARDING_ENGINES = frozenset({"openai"})
"""The engines that forward the params of this module to their upstream."""
PARAMS = ("tools", "tool_choice", "response_format", "logprobs", "top_logprobs", "n")
MAX_TOOLS = 128
MAX_CHOICES = 8
MAX_TOP_LOGPROBS = 20
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_NODES = 10_000
MAX_DESCRIPTION = 4096
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema no deeper than `MAX_SCHEMA_DEPTH` with at most `MAX_SCHEMA_NODES` values
    (keys included), walked with a stack of its own: deep nesting must be a 4xx, never a
    RecursionError, here or wherever the params are serialized later."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if nodes > MAX_SCHEMA_NODES:
            raise ValueError(f"a schema holds at most {MAX_SCHEMA_NODES} values")
        if depth > MAX_SCHEMA_DEPTH:
            raise ValueError(f"a schema nests at most {MAX_SCHEMA_DEPTH} levels")
        if isinstance(item, dict):
            nodes += len(item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value


JsonSchemaObject = Annotated[dict[str, Any], AfterValidator(_bounded)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]
StrictFlag = Annotated[bool, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionDefinition(_Strict):
    name: Name
    description: Description | None = None
    parameters: JsonSchemaObject | None = None
    strict: StrictFlag | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(_Strict):
    name: Name


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: FunctionName


def _tool_choice_kind(value: Any) -> str:
    return "function" if isinstance(value, dict | NamedToolChoice) else "mode"


ToolChoice = Annotated[
    Annotated[Literal["none", "auto", "required"], Tag("mode")]
    | Annotated[NamedToolChoice, Tag("function")],
    Discriminator(_tool_choice_kind),
]
"""A mode, or one function to call; an error names `tool_choice.mode` or
`tool_choice.function...` (not pydantic's names of union members)."""


class TextFormat(_Strict):
    type: Literal["text"]


class JsonObjectFormat(_Strict):
    type: Literal["json_object"]


class JsonSchemaSpec(_Strict):
    name: Name
    description: Description | None = None
    schema_: JsonSchemaObject | None = Field(default=None, alias="schema")
    strict: StrictFlag | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class JsonSchemaFormat(_Strict):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]
Tools = Annotated[list[Tool], Field(max_length=MAX_TOOLS)]
Choices = Annotated[int, Strict(), Field(ge=1, le=MAX_CHOICES)]
TopLogprobs = Annotated[int, Strict(), Field(ge=0, le=MAX_TOP_LOGPROBS)]

HARMLESS: dict[str, tuple[Any, ...]] = {
    "tools": ([],),
    "tool_choice": ("none", "auto"),
    "response_format": ({"type": "text"},),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "n": (1,),
}
"""The values that change nothing, in JSON: a pool of any engine accepts them."""


def changes_answer(name: str, value: Any) -> bool:
    """Whether `value` (as JSON data) of the param `name` would change the answer."""
    if value is None:
        return False
    return not any(
        type(value) is type(harmless) and value == harmless for harmless in HARMLESS[name]
    )


def first_changing(params: dict[str, Any]) -> str | None:
    """The first of these params (as JSON data) set to a value that changes the answer."""
    return next((name for name in PARAMS if changes_answer(name, params.get(name))), None)


def unhonoured(params: dict[str, Any], engine: str) -> str | None:
    """The first param (as JSON data) a pool of `engine` cannot honour, or None."""
    return None if engine in FORWARDING_ENGINES else first_changing(params)
