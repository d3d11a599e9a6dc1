"""Answering a refused connection or request at the ASGI level, before any route runs.

HTTP gets the usual error body (OpenAI's shape on the OpenAI routes) with its status and
headers. A WebSocket is refused one of two ways:
- `refuse`: accepted and closed at once with a close code and a reason that starts with the
  error code (limits: a browser sees close codes, never the status of a refused handshake);
- `deny`: its handshake answered with the HTTP error (ASGI's `websocket.http.response`; a close
  before accept where the server lacks it), for requests that must not be accepted at all
  (a foreign origin, a bad ticket or cookie).
"""

from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from edge.errors import error_response, is_openai_path, openai_error

MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes
WS_CLOSE_POLICY_VIOLATION = 1008


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
    await _http_error(refusal, scope)(scope, receive, send)


async def deny(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    refusal = Refusal(status, code, message, WS_CLOSE_POLICY_VIOLATION, headers or {})
    response = _http_error(refusal, scope)
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    websocket = WebSocket(scope, receive, send)
    if "websocket.http.response" in scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(refusal.close_code, refusal.reason())


def _http_error(refusal: Refusal, scope: Scope) -> Response:
    if is_openai_path(str(scope.get("path", ""))):
        return openai_error(refusal.status, refusal.code, refusal.message, refusal.headers)
    return error_response(refusal.status, refusal.code, refusal.message, **refusal.headers)
