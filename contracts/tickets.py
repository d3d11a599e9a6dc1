"""`POST /v1/tickets`: a short-lived, single-use, single-purpose ticket for a browser's
event stream, so no API key ever travels in a URL.

A browser cannot set `Authorization` on a WebSocket or an `EventSource`; it asks for a
ticket with its key (or guest cookie) and opens `/v1/ws?ticket=…` (purpose `ws`) or
`/v1/jobs/{id}/events?ticket=…` (purpose `events`). A ticket is accepted once, on those
routes only, for the purpose it was issued for, until `expires_at`.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.jobs import ClientModel

TICKET_PATTERN = r"^[A-Za-z0-9_-]{43}$"
"""A ticket as issued: 32 random bytes, base64url without padding."""


class TicketPurpose(StrEnum):
    """`ws` for WS /v1/ws, `events` for GET /v1/jobs/{id}/events."""

    ws = "ws"
    events = "events"


class TicketRequest(ClientModel):
    """What a client asks for: a ticket for the WebSocket or for one SSE stream."""

    purpose: TicketPurpose


class Ticket(BaseModel):
    """A ticket for `?ticket=`: accepted once, for its purpose, until `expires_at`."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    ticket: str = Field(pattern=TICKET_PATTERN)
    purpose: TicketPurpose
    expires_at: float = Field(description="Unix seconds after which the ticket is refused.")
