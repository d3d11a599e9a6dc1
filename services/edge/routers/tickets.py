"""`POST /v1/tickets`: a short-lived ticket for a browser's WebSocket or SSE stream."""

from fastapi import APIRouter

from contracts.errors import ErrorBody
from contracts.tickets import Ticket, TicketRequest
from edge.deps import CurrentUser, StateDep
from edge.tickets import TicketBook

router = APIRouter(prefix="/v1", tags=["tickets"])

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 413, 422, 503)
}


@router.post("/tickets", status_code=201, responses=_ERRORS)
async def create_ticket(request: TicketRequest, state: StateDep, user: CurrentUser) -> Ticket:
    """A ticket for `?ticket=` on `WS /v1/ws` (purpose `ws`) or `GET /v1/jobs/{id}/events`
    (purpose `events`): it stands for the caller, works once, and expires after
    `EDGE_TICKET_TTL_SECONDS`. Keys never go in URLs; tickets do."""
    book = TicketBook(state.redis, state.store.keys, state.settings.ticket_ttl_seconds)
    return await book.issue(user, request.purpose)
