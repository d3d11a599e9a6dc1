"""Which browsers may talk to this edge: the `Host` they asked for, the `Origin` they came from.

DNS rebinding: a page of `attacker.example` whose name is re-pointed at 127.0.0.1 reaches a
local edge as its own origin; its requests still say `Host: attacker.example`. So the edge
answers only to host names in `EDGE_ALLOWED_HOSTS` (localhost and the loopback addresses by
default) and to the address the client connected to (a literal IP cannot be rebound);
anything else is `400 host_not_allowed`.

Cross-site requests (a page of another site opening `/v1/ws`, an `EventSource`, a `fetch`
or a form) carry an `Origin`. The edge accepts one only when it is the edge's own origin
(host and port equal to the request's `Host`) or is listed in `EDGE_ALLOWED_ORIGINS`;
anything else is `403 origin_not_allowed`, and a WebSocket is refused before it opens.
Requests without `Origin` (curl, SDKs, servers) are not a browser's cross-site requests.

With `EDGE_TRUST_PROXY_HEADERS` the edge believes `X-Forwarded-Host` and
`X-Forwarded-Proto` from the proxy in front of it; never turn it on without one.
"""

import functools
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.errors import ErrorCode
from edge.refuse import deny
from edge.settings import Settings

ANY_HOST = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header, or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _forwarded(scope: Scope, name: bytes, trust_proxy_headers: bool) -> str | None:
    if not trust_proxy_headers:
        return None
    value = header(scope, name)
    return value.split(",")[0].strip() or None if value else None


def request_host(scope: Scope, trust_proxy_headers: bool) -> str | None:
    """The host (and port) the client asked for."""
    return _forwarded(scope, b"x-forwarded-host", trust_proxy_headers) or header(scope, b"host")


def is_tls(scope: Scope, trust_proxy_headers: bool) -> bool:
    """Whether the client reached us over TLS (directly, or through a trusted proxy)."""
    proto = _forwarded(scope, b"x-forwarded-proto", trust_proxy_headers)
    return scope.get("scheme") in ("https", "wss") or (proto or "").lower() == "https"


@functools.lru_cache(maxsize=256)
def _split(netloc: str) -> tuple[str, int | None] | None:
    """(host name, port) of `host[:port]`, lower case, IPv6 without brackets; None if bad."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path or parts.query:
        return None
    return parts.hostname, port


class BrowserGuard:
    """The checks above, with the allowlists read once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.trust_proxy_headers = settings.trust_proxy_headers
        self.origins = settings.origin_list()
        hosts = settings.host_list()
        self.any_host = ANY_HOST in hosts
        self.hosts = frozenset(host.strip("[]") for host in hosts)

    def host_problem(self, scope: Scope) -> str | None:
        host = request_host(scope, self.trust_proxy_headers)
        parts = _split(host) if host else None
        if parts is None:
            return "the request has no valid Host header"
        if self.any_host or parts[0] in self.hosts:
            return None
        server = scope.get("server")
        if server and str(server[0]).lower() == parts[0]:
            return None
        return f"this edge does not answer to the host {parts[0]!r}; see EDGE_ALLOWED_HOSTS"

    def origin_problem(self, scope: Scope) -> str | None:
        origin = header(scope, b"origin")
        if origin is None or origin.lower().rstrip("/") in self.origins:
            return None
        if self._same_origin(origin, scope):
            return None
        return (
            f"requests from the origin {origin[:100]!r} are not allowed; see EDGE_ALLOWED_ORIGINS"
        )

    def _same_origin(self, origin: str, scope: Scope) -> bool:
        try:
            parsed = urlsplit(origin.strip())
        except ValueError:
            return False
        default = _DEFAULT_PORTS.get(parsed.scheme)
        theirs = _split(parsed.netloc) if default and not parsed.path else None
        host = request_host(scope, self.trust_proxy_headers)
        ours = _split(host) if host else None
        if theirs is None or ours is None:
            return False
        return (theirs[0], theirs[1] or default) == (ours[0], ours[1] or default)


class BrowserGuardMiddleware:
    """Refuses a foreign `Host` (400) or `Origin` (403) before anything else runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.guard = BrowserGuard(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            if problem := self.guard.host_problem(scope):
                await deny(scope, receive, send, 400, ErrorCode.host_not_allowed, problem)
                return
            if problem := self.guard.origin_problem(scope):
                await deny(scope, receive, send, 403, ErrorCode.origin_not_allowed, problem)
                return
        await self.app(scope, receive, send)
