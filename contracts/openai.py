"""The OpenAI-compatible request shapes accepted at `/v1/chat/completions` and
`/v1/embeddings`. Fields OpenAI defines that Relayline does not use are accepted and ignored
(so existing clients work unchanged); ones that would change the answer are refused."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.jobs import (
    MAX_TOKENS,
    ClientModel,
    Seed,
    StopList,
    StopSequence,
)

MAX_MODEL_NAME = 100
MAX_USER = 256


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

    include_usage: bool = False


class ChatCompletionRequest(_OpenAIRequest):
    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    seed: Seed | None = None
    stop: StopSequence | StopList | None = None
    n: int = Field(default=1, ge=1, le=1, description="Only 1 is supported.")
    user: str | None = Field(default=None, max_length=MAX_USER)


class EmbeddingsRequest(_OpenAIRequest):
    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    input: str | list[str] = Field(description="A text, or at most 2048 texts.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=65536)
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
