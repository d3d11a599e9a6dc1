from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from contracts.errors import ErrorCode
from contracts.jobs import (
    MAX_IDEMPOTENCY_KEY,
    JobAccepted,
    JobList,
    JobRecord,
    JobRequest,
)
from edge.deps import CurrentUser, StateDep
from edge.errors import BadRequest, error_responses
from edge.jobs import submit_job
from edge.records import list_json

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_SUBMIT_ERRORS = error_responses(400, 401, 404, 413, 422, 429, 503)
_READ_ERRORS = error_responses(400, 401, 404, 422, 429, 503)
MAX_CURSOR = 1e12
"""Far past any creation time (unix seconds) a cursor can name."""


@router.post("", status_code=202, responses=_SUBMIT_ERRORS)
async def create_job(
    request: JobRequest,
    state: StateDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY)] = None,
) -> JobAccepted:
    """Submit a job. `202` means it is in Redis; follow it at `/v1/jobs/{id}/events`."""
    if idempotency_key and request.idempotency_key and idempotency_key != request.idempotency_key:
        raise BadRequest(ErrorCode.invalid_request, "the Idempotency-Key header and field disagree")
    if idempotency_key:
        request = request.model_copy(update={"idempotency_key": idempotency_key})
    return await submit_job(state, user, request)


def _json(body: str, status_code: int = 200) -> Response:
    """A body built by `edge.records`, the stored outputs in it never parsed."""
    return Response(body, status_code, media_type="application/json")


@router.get("", response_model=JobList, responses=_READ_ERRORS)
async def list_jobs(
    state: StateDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        float | None,
        Query(
            ge=0,
            le=MAX_CURSOR,
            allow_inf_nan=False,
            description="`next_cursor` of the previous page",
        ),
    ] = None,
) -> Response:
    """The caller's jobs, newest first: `limit` of them, or fewer when their outputs pass
    the edge's byte budget (`EDGE_LIST_MAX_BYTES`; always one). `next_cursor` (null at the
    end) gives the next page."""
    jobs, next_cursor = await state.store.list(user, limit, cursor)
    return _json(list_json(jobs, next_cursor))


@router.get("/{job_id}", response_model=JobRecord, responses=_READ_ERRORS)
async def get_job(job_id: str, state: StateDep, user: CurrentUser) -> Response:
    """One job: status, attempt, output and error."""
    return _json(await state.store.get(user, job_id))


@router.post("/{job_id}/cancel", status_code=202, response_model=JobRecord, responses=_READ_ERRORS)
async def cancel_job(job_id: str, state: StateDep, user: CurrentUser) -> Response:
    """Cancel a job: a queued one ends at once, a running one at its worker's next step.
    Follow its events for the `job-end` with status `cancelled`."""
    return _json(await state.store.cancel(user, job_id), 202)
