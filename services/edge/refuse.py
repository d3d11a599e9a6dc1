"""Answering a refused connection or request at the ASGI level, before any route runs.

HTTP gets the usual error body (OpenAI's shape on the OpenAI routes) with its status and
headers. A WebSocket is accepted and closed at once with a close code and a reason that
starts with the error code: a browser sees close codes, never the status of a refused
handshake.
"""

from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send

from edge.errors import OPENAI_PATHS, error_response, openai_error

MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    close_code: int
    headers: dict[str, str] = field(default_factory=dict)

    def reason(self) -> str:
        text = f"{self.code}: {self.message}"
        return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


async def refuse(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send(
            {"type": "websocket.close", "code": refusal.close_code, "reason": refusal.reason()}
        )
        return
    if scope.get("path") in OPENAI_PATHS:
        response = openai_error(refusal.status, refusal.code, refusal.message, refusal.headers)
    else:
        response = error_response(refusal.status, refusal.code, refusal.message, **refusal.headers)
    await response(scope, receive, send)
