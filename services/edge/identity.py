"""Who is calling: a bearer API key, a stream ticket, or (in guest mode) a signed guest id.

In order:
1. `Authorization: Bearer <key>` maps a key to its user through `EDGE_API_KEYS`. Keys never
   travel in URLs: a request with `?api_key=` is refused (URLs end up in logs and history).
2. On `WS /v1/ws` and `GET /v1/jobs/{id}/events` only, `?ticket=` from `POST /v1/tickets`,
   redeemed by `edge.tickets.TicketMiddleware` (a browser cannot set headers there).
3. In guest mode, the user `guest-<id>` from the `rl_guest` cookie. The cookie holds the id and
   its HMAC-SHA256 under `EDGE_GUEST_SECRET`, so only this server can make one: a forged,
   unsigned or tampered cookie gets a fresh identity, never the one it claims. The cookie is
   `HttpOnly` (no script reads it), `SameSite=Lax` and `Secure` when the request came over TLS.
   The id is `<tag>-<random>`: `<tag>` is a keyed hash of the client address it was minted
   for (`edge.ratelimit.client_address`; the address itself never appears), so every guest of
   one address shares the guest tier's limits (`contracts.keys.account`). An id of the older
   form, without a tag, is not accepted: its holder gets a new one.

`SameSite=Lax`, not `Strict`: a guest arriving by a link from another site must keep its
identity (with `Strict` the page load would carry no cookie and mint a new guest over the old
one). Lax cookies still never ride on cross-site fetches, form posts or WebSockets, and the
routes that change anything take JSON only and check `Origin` (`edge.origins`).
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.errors import ErrorCode
from contracts.keys import GUEST_PREFIX, GUEST_TAG_LENGTH
from edge.errors import ApiError, Unauthorized
from edge.origins import header, is_tls
from edge.ratelimit import client_address
from edge.refuse import deny
from edge.tickets import TICKET_PARAMETER, TICKET_USER, query_values

GUEST_COOKIE = "rl_guest"
GUEST_MAX_AGE = 31536000
MIN_SECRET_LENGTH = 32
_GUEST_ID = re.compile(rf"[0-9a-f]{{{GUEST_TAG_LENGTH}}}-[0-9a-f]{{32}}")
_STATE_KEY = "relayline_guest"
_KEY_CONTEXT = b"relayline guest id v1"
_ADDRESS_CONTEXT = b"relayline guest address v1"


class GuestSigner:
    """Signs guest ids as `<id>.<hex HMAC-SHA256>` and checks them in constant time; makes
    new ids, tagged with their client address."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"EDGE_GUEST_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        # Keys of their own, so the secret could sign other things without confusion.
        self._key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
        self._address_key = hmac.new(secret.encode(), _ADDRESS_CONTEXT, hashlib.sha256).digest()

    def new_id(self, address: str) -> str:
        """A new guest id for a client at `address`: `<tag>-<random>`."""
        mac = hmac.new(self._address_key, address.encode(), hashlib.sha256).hexdigest()
        return f"{mac[:GUEST_TAG_LENGTH]}-{secrets.token_hex(16)}"

    def _mac(self, guest_id: str) -> str:
        return hmac.new(self._key, guest_id.encode(), hashlib.sha256).hexdigest()

    def sign(self, guest_id: str) -> str:
        return f"{guest_id}.{self._mac(guest_id)}"

    def verify(self, value: str | None) -> str | None:
        """The guest id of a cookie this server signed; None for anything else."""
        guest_id, _, mac = (value or "").partition(".")
        if not _GUEST_ID.fullmatch(guest_id) or not hmac.compare_digest(mac, self._mac(guest_id)):
            return None
        return guest_id


async def mint_guest(scope: Scope, signer: GuestSigner) -> str:
    """A new guest identity for a request that has none (or only a forged one): the one place
    a guest is created, after the middleware's `admit_new` gate (new guests per client
    address). An `ApiError` raised here is the request's answer (HTTP, or the handshake's)."""
    return signer.new_id(client_address(scope.get("client")))


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(bytes(value).decode("latin-1"))
            except CookieError:
                continue
            if name in jar:
                return str(jar[name].value)
    return None


def guest_cookie(value: str, secure: bool) -> bytes:
    attributes = f"Path=/; Max-Age={GUEST_MAX_AGE}; HttpOnly; SameSite=Lax"
    return f"{GUEST_COOKIE}={value}; {attributes}{'; Secure' if secure else ''}".encode()


GuestGate = Callable[[Scope, Receive, Send], Awaitable[bool]]
"""Asked before a new guest id is minted (limits on new guests per client address); False
when it refused, and answered, the request."""


class GuestCookieMiddleware:
    """Gives every browser a stable, signed guest id; only installed in guest mode. A request
    with a key or a redeemed ticket is not a guest and gets no cookie."""

    def __init__(
        self,
        app: ASGIApp,
        secret: str,
        trust_proxy_headers: bool = False,
        admit_new: GuestGate | None = None,
    ) -> None:
        self.app = app
        self.signer = GuestSigner(secret)
        self.trust_proxy_headers = trust_proxy_headers
        self.admit_new = admit_new

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._is_guest(scope):
            await self.app(scope, receive, send)
            return
        guest = self.signer.verify(_cookie(scope, GUEST_COOKIE))
        if guest is not None:
            scope.setdefault("state", {})[_STATE_KEY] = guest
            await self.app(scope, receive, send)
            return
        if self.admit_new and not await self.admit_new(scope, receive, send):
            return  # too many new guest ids from this client address
        try:
            guest = await mint_guest(scope, self.signer)
        except ApiError as exc:  # e.g. too many new guests from one address: 429
            await deny(scope, receive, send, exc.status, exc.code, exc.message, exc.headers)
            return
        scope.setdefault("state", {})[_STATE_KEY] = guest
        cookie = guest_cookie(self.signer.sign(guest), is_tls(scope, self.trust_proxy_headers))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    def _is_guest(scope: Scope) -> bool:
        state = scope.get("state", {})
        return header(scope, b"authorization") is None and TICKET_USER not in state


def _bearer(scope: Scope) -> str | None:
    """The key of `Authorization: Bearer <key>`; "" for another scheme, None without one."""
    value = header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def resolve_user(scope: Scope, api_keys: dict[str, str], guest_mode: bool) -> str:
    """The caller's user id, or `Unauthorized`."""
    if query_values(scope, "api_key"):
        raise Unauthorized(
            ErrorCode.unauthorized,
            "API keys are not accepted in URLs; send 'Authorization: Bearer <api key>', or "
            "for a WebSocket or EventSource get a ticket with POST /v1/tickets",
        )
    key = _bearer(scope)
    if key is not None:
        user = api_keys.get(key)
        if user is None:
            raise Unauthorized(ErrorCode.unauthorized, "the API key is not valid")
        return user
    state = scope.get("state", {})
    if ticket_user := state.get(TICKET_USER):
        return str(ticket_user)
    if query_values(scope, TICKET_PARAMETER):
        raise Unauthorized(
            ErrorCode.invalid_ticket,
            "a ticket is accepted only on WS /v1/ws and GET /v1/jobs/{id}/events",
        )
    if guest_mode and (guest := state.get(_STATE_KEY)):
        return f"{GUEST_PREFIX}{guest}"
    raise Unauthorized(
        ErrorCode.unauthorized,
        "send 'Authorization: Bearer <api key>'; keys are configured in EDGE_API_KEYS",
    )
