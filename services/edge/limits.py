"""Request body size limit, enforced before a body is read into memory."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.errors import error_response, is_openai_path, openai_error


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes"
        if is_openai_path(scope["path"]):
            response = openai_error(413, "payload_too_large", message)
        else:
            response = error_response(413, "payload_too_large", message)
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    """A body (without a Content-Length, or longer than it said) past the limit. An
    `HTTPException`, so the framework's body parsing passes it on instead of taking it for
    a parse error (400); the app's handler answers it (413 payload_too_large), and this
    middleware does when it is raised elsewhere."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
