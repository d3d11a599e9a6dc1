"""Refusing a request from an ASGI middleware, before any route runs: a JSON error for HTTP
(OpenAI's shape on the OpenAI routes), and for a WebSocket an HTTP answer to its handshake
(ASGI's `websocket.http.response`; a close before accept where the server lacks it)."""

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from edge.errors import OPENAI_PATHS, error_response, openai_error

WS_CLOSE_POLICY_VIOLATION = 1008


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    if scope.get("path") in OPENAI_PATHS:
        response = openai_error(status, code, message, headers)
    else:
        response = error_response(status, code, message, **(headers or {}))
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    websocket = WebSocket(scope, receive, send)
    if "websocket.http.response" in scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(WS_CLOSE_POLICY_VIOLATION, message[:120])
