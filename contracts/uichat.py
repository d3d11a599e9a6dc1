"""The Vercel AI SDK's chat requests: what `DefaultChatTransport` POSTs to `/v1/ui/chat`.

`useChat` sends `{id, messages, trigger, messageId?}` plus the transport's custom body
fields (`model`, `params`); the AI SDK's resume guide sends `{id, message}` (one message)
instead. Each `UIMessage` holds `parts`; Relayline's chat models take text, so:

- `text` parts are the message's content (several are joined);
- `step-start` and `data-*` parts are the UI's own (the AI SDK's `convertToModelMessages`
  drops them too) and are ignored;
- any other part (files, tools, reasoning, sources) is refused: dropping it would change
  what the model is asked.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.jobs import ClientModel

MAX_CHAT_ID = 200
CHAT_ID_PATTERN = r"^[A-Za-z0-9_.:~@-]{1,200}$"
"""A chat id: it is a path segment of the resume and stop routes and part of a Redis key, so
URL-safe ASCII only (the AI SDK's ids and UUIDs fit); `.` and `..` alone are refused."""
MAX_MESSAGES = 1000
MAX_PARTS = 100
IGNORED_PART_TYPES = frozenset({"step-start"})
"""Part types that carry nothing for the model, besides every `data-*` part."""

ChatId = Annotated[str, Field(pattern=CHAT_ID_PATTERN, description="The chat's id (`useChat`'s)")]


def check_chat_id(chat_id: str) -> str:
    if chat_id in (".", ".."):
        raise ValueError("a chat id may not be '.' or '..'")
    return chat_id


class UIMessagePart(BaseModel):
    """One part of a `UIMessage`: a `type` and whatever that type carries (kept loose: the
    AI SDK adds fields such as `state` and `providerMetadata`; only `text` is read)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1, max_length=100)
    text: str | None = None

    @model_validator(mode="after")
    def _supported(self) -> "UIMessagePart":
        if self.type == "text":
            if self.text is None:
                raise ValueError("a text part needs its `text`")
        elif self.type not in IGNORED_PART_TYPES and not self.type.startswith("data-"):
            raise ValueError(
                f"part type {self.type[:100]!r} is not supported: Relayline's chat models take "
                "text parts (step-start and data-* parts are ignored)"
            )
        return self


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # `metadata` and whatever an app keeps there

    id: str = Field(default="", max_length=MAX_CHAT_ID)
    role: Literal["system", "user", "assistant"]
    parts: list[UIMessagePart] = Field(max_length=MAX_PARTS)

    def text(self) -> str:
        return "".join(part.text or "" for part in self.parts if part.type == "text")


class UIChatRequest(ClientModel):
    """`POST /v1/ui/chat`: one turn of a chat. `messages` (the whole chat, as `useChat`
    sends it) or `message` (one message, answered on its own: Relayline keeps no
    transcript of its own). `trigger` and `messageId` are accepted and not needed: every
    request starts a new answer."""

    id: ChatId
    messages: list[UIMessage] | None = Field(default=None, max_length=MAX_MESSAGES)
    message: UIMessage | None = None
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    message_id: str | None = Field(default=None, alias="messageId", max_length=MAX_CHAT_ID)
    model: str = Field(min_length=1, max_length=100, description="A chat pool from /v1/models.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Chat params: max_tokens, temperature, top_p, ..."
    )

    _chat_id = field_validator("id")(check_chat_id)

    @model_validator(mode="after")
    def _one_form(self) -> "UIChatRequest":
        if (self.messages is None) == (self.message is None):
            raise ValueError("send either `messages` (the chat) or `message` (one message)")
        return self

    def chat_messages(self) -> list[dict[str, str]]:
        """The chat input's messages: text only (see the module's doc)."""
        ui_messages = self.messages if self.messages is not None else [self.message]
        return [
            {"role": message.role, "content": message.text()}
            for message in ui_messages
            if message is not None
        ]


class UIChatStopped(BaseModel):
    """`POST /v1/ui/chat/{chatId}/stop`: the chat's latest answer and its status now."""

    id: str
    job_id: str
    status: str
