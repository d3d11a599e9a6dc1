import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from contracts.errors import ErrorCode
from contracts.jobs import (
    MAX_IDEMPOTENCY_KEY,
    JobAccepted,
    JobList,
    JobRecord,
    JobRequest,
)
from edge.deps import CurrentUser, EdgeState, StateDep
from edge.errors import ApiError, BadRequest, error_responses
from edge.guards import Guards, submit_token, take_token
from edge.identity import resolve_user
from edge.jobs import submit_job
from edge.ratelimit import RateLimited, Token
from edge.records import list_json

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_SUBMIT_ERRORS = error_responses(400, 401, 404, 413, 422, 429, 503)
_READ_ERRORS = error_responses(400, 401, 404, 422, 429, 503)
MAX_CURSOR = 1e12
"""Far past any creation time (unix seconds) a cursor can name."""


# Served by `SubmitRoute`, which finds these arguments itself: FastAPI never solves this
# signature's dependencies (nor runs `Token` in its thread pool), it only documents it.
async def create_job(
    request: JobRequest,
    state: StateDep,
    user: CurrentUser,
    token: Annotated[Token, Depends(Token)],
    idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY)] = None,
) -> JobAccepted:
    """Submit a job. `202` means it is in Redis; follow it at `/v1/jobs/{id}/events`."""
    if idempotency_key and request.idempotency_key and idempotency_key != request.idempotency_key:
        raise BadRequest(ErrorCode.invalid_request, "the Idempotency-Key header and field disagree")
    if idempotency_key:
        request = request.model_copy(update={"idempotency_key": idempotency_key})
    return (await submit_job(state, user, request, token)).accepted


class SubmitRoute(APIRoute):
    """`POST /v1/jobs`, the edge's busiest route: declared by `create_job` like any other
    (its OpenAPI operation comes from the signature), served without FastAPI's work per
    request: solving the route's dependencies and checking its answer against the response
    model took a third of the edge's CPU per submit (docs/benchmarks.md). `handle`
    gives `create_job` the same arguments, found by hand, and the same errors: 401 first,
    then 400 for a body that is not JSON, else one 422 naming every field at fault, the
    header's first. Its request token is taken by `SUBMIT` (`edge.guards.takes_token_in_submit`),
    or here when the request is refused before."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await super().handle(scope, receive, send)  # 405, as any route answers
            return
        state: EdgeState = scope["app"].state.edge
        user = resolve_user(scope, state.api_keys, state.settings.guest_mode)
        token = submit_token(scope)
        try:
            request = Request(scope, receive)
            key, errors = _idempotency_key(request.headers.get("idempotency-key"))
            body, content_type = await request.body(), request.headers.get("content-type")
            job = _job_request(body, content_type, errors)
            accepted = await create_job(job, state, user, token, key)
        except (ApiError, RequestValidationError, HTTPException) as exc:
            await _refused(scope["app"].state.guards, user, token, exc)
            raise
        except ClientDisconnect:  # gone before its body came: nobody to answer, nothing logged
            return  # (its token: `edge.guards.RateLimitMiddleware`)
        body = accepted.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _refused(guards: Guards, user: str, token: Token, exc: Exception) -> None:
    """A submit refused: `SUBMIT`'s refusal of the bucket is remembered (the next submits
    are refused without Redis, see `edge.guards`), and a request refused before `SUBMIT`
    took its token takes one now (a 429 then replaces its error)."""
    if isinstance(exc, RateLimited):
        guards.rates.request_refused(user, exc.decision)
    elif not token.taken:
        token.taken = True
        await take_token(guards, user)


_KEY = TypeAdapter(Annotated[str, StringConstraints(max_length=MAX_IDEMPOTENCY_KEY)])


def _idempotency_key(value: str | None) -> tuple[str | None, list[Any]]:
    """The `Idempotency-Key` header, or what is wrong with it as FastAPI's errors."""
    if value is None:
        return None, []
    try:
        return _KEY.validate_python(value), []
    except ValidationError as exc:
        return None, [_at(("header", "idempotency-key"), error) for error in exc.errors()]


def _job_request(body: bytes, content_type: str | None, errors: list[Any]) -> JobRequest:
    """The body as FastAPI reads a JSON body: parsed only with a JSON content type (as
    bytes otherwise, which the model refuses); a body that is not JSON is a 400. `errors`:
    the header's, raised with the body's."""
    job: JobRequest | None = None
    try:
        if not body:
            errors = [*errors, {"type": "missing", "loc": ("body",), "msg": "Field required"}]
        elif _is_json(content_type):
            job = _parse_json(body)
        else:
            job = JobRequest.model_validate(body)
    except ValidationError as exc:
        errors = [*errors, *(_at(("body",), error) for error in exc.errors(include_input=False))]
    if errors or job is None:
        raise RequestValidationError(errors)
    return job


def _parse_json(body: bytes) -> JobRequest:
    """pydantic's JSON parser, in one step; for JSON it refuses (a lone surrogate's escape,
    nesting past its limit), Python's `json` and then the model, as FastAPI would: a lone
    surrogate is then the model's 422, not a 400."""
    try:
        return JobRequest.model_validate_json(body)
    except ValidationError as exc:
        if all(error["type"] != "json_invalid" for error in exc.errors()):
            raise
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
        ) from None
    return JobRequest.model_validate(parsed)


def _is_json(content_type: str | None) -> bool:
    """`application/json` or `application/*+json`, parameters aside (FastAPI's test)."""
    if not content_type:
        return False
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _at(where: tuple[str, ...], error: Any) -> dict[str, Any]:
    return {**error, "loc": (*where, *error["loc"])}


def add_submit_route(app: FastAPI) -> None:
    """`POST /v1/jobs` on the app's own router, not in `router`: FastAPI matches the routes
    of an included router as a group, with bookkeeping of its own per candidate, and the
    request's route again within it; for the edge's busiest route that was 12-18% of a
    submit's CPU (docs/benchmarks.md). Added where `router` is included, so the OpenAPI
    document lists it where it did."""
    app.router.add_api_route(
        router.prefix,
        create_job,
        methods=["POST"],
        status_code=202,
        tags=list(router.tags),
        responses=_SUBMIT_ERRORS,
        route_class_override=SubmitRoute,
    )


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
