"""OpenAI's Responses API, background mode included: `POST /v1/responses`, `GET`, `POST
.../cancel` and `DELETE /v1/responses/{id}`. A response is an ordinary chat job
(`resp_<job id>`, header `X-Relayline-Job-Id`); see `edge.responses` for the translation and
`edge.response_events` for the stream's events and their `sequence_number`s. Errors use
OpenAI's shape.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from contracts.errors import ErrorCode
from contracts.jobs import JobStatus
from contracts.responses import MAX_STARTING_AFTER, ResponseCreateRequest
from edge.deps import CurrentUser, EdgeState, StateDep
from edge.errors import Conflict, Gone, NotFound, error_responses, openai_error
from edge.response_objects import response_object
from edge.responses import (
    Replay,
    end_of,
    is_ended,
    job_of,
    read_response,
    record_response,
    response_not_found,
    submit_response,
    wait_for_end,
)

router = APIRouter(prefix="/v1/responses", tags=["openai"])
_ERRORS = error_responses(400, 401, 404, 409, 410, 413, 429, 500, 503, openai=True)
_SSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}}}}
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _headers(job_id: str, stream: bool = False) -> dict[str, str]:
    return {"X-Relayline-Job-Id": job_id, **(_STREAM_HEADERS if stream else {})}


@router.post("", response_model=None, responses={**_ERRORS, **_SSE})
async def create_response(
    body: ResponseCreateRequest, state: StateDep, user: CurrentUser
) -> Response:
    """Create a response. `background: true`: answers at once, `status: "queued"`;
    `stream: true`: the response's events as SSE; neither: the ended response."""
    unknown = body.unknown_field()
    if unknown is not None:
        name = unknown[:60]
        message = f"Unsupported parameter: '{name}' is not supported by Relayline"
        return openai_error(400, ErrorCode.unsupported_parameter, message, param=name)
    head = await submit_response(state, user, body)
    if body.stream:
        events = Replay(state, head, starting_after=-1).rest()
        headers = _headers(head.job_id, stream=True)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    if body.background:
        answer = response_object(head, JobStatus.queued)
        return JSONResponse(answer, headers=_headers(head.job_id))
    await end_of(state, head.job_id)
    head, record, output = await read_response(state, user, head.job_id)
    return JSONResponse(record_response(head, record, output), headers=_headers(head.job_id))


@router.get("/{response_id}", response_model=None, responses={**_ERRORS, **_SSE})
async def retrieve_response(
    response_id: str,
    state: StateDep,
    user: CurrentUser,
    stream: bool = False,
    starting_after: Annotated[
        int | None,
        Query(ge=0, le=MAX_STARTING_AFTER, description="With `stream`: the last event seen."),
    ] = None,
) -> Response:
    """The response; with `stream=true`, its events (after `starting_after`) as SSE, from
    any edge, until it ends. A position past every event so far is `400 seq_out_of_range`;
    a stream after the response's events expired is `410 events_expired`."""
    job_id = job_of(response_id)
    head, record, output = await read_response(state, user, job_id)
    if not stream:
        return JSONResponse(record_response(head, record, output), headers=_headers(job_id))
    if is_ended(record) and not await state.store.has_events(job_id):
        raise Gone(
            ErrorCode.events_expired,
            f"the events of response {response_id} have expired; retrieve it without stream",
        )
    replay = Replay(state, head, -1 if starting_after is None else starting_after)
    await replay.open(int(record.get("seq", 0)))
    headers = _headers(job_id, stream=True)
    return StreamingResponse(replay.rest(), media_type="text/event-stream", headers=headers)


async def _stop(state: EdgeState, user: str, job_id: str, record: dict[str, str]) -> None:
    """Cancel the job (the model stops at its next step) and wait a while for its end."""
    if is_ended(record):
        return
    try:
        await state.store.cancel(user, job_id)
    except NotFound as exc:  # deleted meanwhile
        raise response_not_found(f"resp_{job_id}") from exc
    seconds = state.settings.responses_wait_seconds
    await wait_for_end(state, job_id, int(record.get("seq", 0)), seconds)


@router.post("/{response_id}/cancel", response_model=None, responses=_ERRORS)
async def cancel_response(response_id: str, state: StateDep, user: CurrentUser) -> Response:
    """Cancel the response's job: a queued one ends at once, a running one's model stops at
    its next step. Answers with the response once it ended (`cancelled`, or its status if
    it had ended before), or as it is after `EDGE_RESPONSES_WAIT_SECONDS`."""
    job_id = job_of(response_id)
    _, record, _ = await read_response(state, user, job_id)
    await _stop(state, user, job_id, record)
    head, record, output = await read_response(state, user, job_id)
    return JSONResponse(record_response(head, record, output), headers=_headers(job_id))


@router.delete("/{response_id}", response_model=None, responses=_ERRORS)
async def delete_response(response_id: str, state: StateDep, user: CurrentUser) -> Response:
    """Delete the response (its job's record and events); one that has not ended is
    cancelled first. `409 job_running` if it has not ended within
    `EDGE_RESPONSES_WAIT_SECONDS`; after that, the response is `404`."""
    job_id = job_of(response_id)
    _, record, _ = await read_response(state, user, job_id)
    await _stop(state, user, job_id, record)
    try:
        deleted = await state.store.delete(user, job_id)
    except NotFound as exc:
        raise response_not_found(response_id) from exc
    if not deleted:
        raise Conflict(
            ErrorCode.job_running,
            f"response {response_id} is being cancelled and has not ended yet: delete it again",
        )
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})
