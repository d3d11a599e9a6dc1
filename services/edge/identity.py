"""Who is calling: bearer API keys, or (in guest mode) a per-browser guest id.

`Authorization: Bearer <key>` (or `?api_key=<key>` where a browser cannot set headers: the
WebSocket and EventSource) maps a key to its user through `EDGE_API_KEYS`. In guest mode a
request without a key gets the user `guest-<id>` from the `rl_guest` cookie, which the
`GuestCookieMiddleware` sets on the first response when it is missing.
"""

import re
import secrets
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.errors import ErrorCode
from edge.errors import Unauthorized

GUEST_COOKIE = "rl_guest"
_GUEST_ID = re.compile(r"^[0-9a-f]{32}$")
_STATE_KEY = "relayline_guest"


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            if name in jar:
                return str(jar[name].value)
    return None


GuestGate = Callable[[Scope, Receive, Send], Awaitable[bool]]
"""Asked before a new guest id is minted; False when it refused (and answered) the request."""


class GuestCookieMiddleware:
    """Gives every browser a stable guest id; only installed in guest mode."""

    def __init__(self, app: ASGIApp, admit_new: GuestGate | None = None) -> None:
        self.app = app
        self.admit_new = admit_new

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        guest = _cookie(scope, GUEST_COOKIE)
        fresh = guest is None or not _GUEST_ID.match(guest)
        if fresh and self.admit_new and not await self.admit_new(scope, receive, send):
            return  # too many new guest ids from this client address
        if fresh:
            guest = secrets.token_hex(16)
        scope.setdefault("state", {})[_STATE_KEY] = guest
        if not fresh:
            await self.app(scope, receive, send)
            return
        cookie = (
            f"{GUEST_COOKIE}={guest}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
        ).encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return ""
    query = scope.get("query_string", b"").decode("latin-1")
    for part in query.split("&"):
        name, _, token = part.partition("=")
        if name == "api_key" and token:
            return str(token)
    return None


def resolve_user(scope: Scope, api_keys: dict[str, str], guest_mode: bool) -> str:
    """The caller's user id, or `Unauthorized`."""
    key = _bearer(scope)
    if key is not None:
        user = api_keys.get(key)
        if user is None:
            raise Unauthorized(ErrorCode.unauthorized, "the API key is not valid")
        return user
    if guest_mode:
        guest = scope.get("state", {}).get(_STATE_KEY)
        if guest:
            return f"guest-{guest}"
    raise Unauthorized(
        ErrorCode.unauthorized,
        "send 'Authorization: Bearer <api key>'; keys are configured in EDGE_API_KEYS",
    )
