"""The Vercel AI SDK's UI message stream protocol, for `useChat` with `DefaultChatTransport`
(`api: "/v1/ui/chat"`): a thin translation of chat jobs and their event logs.

- `POST /v1/ui/chat` starts a chat job for the chat's messages and streams its answer. A
  chat still answering has that answer cancelled and replaced by the new one.
- `GET /v1/ui/chat/{chatId}/stream` replays the chat's running answer from its `start`,
  on any edge; 204 when nothing is running (also for another user's chat).
- `POST /v1/ui/chat/{chatId}/stop` cancels the chat's answer (a client's `stop()` only
  disconnects; a disconnect never cancels).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from contracts.errors import ErrorCode
from contracts.jobs import TERMINAL_STATUSES, JobRequest
from contracts.pools import ModelKind
from contracts.uichat import CHAT_ID_PATTERN, UIChatRequest, UIChatStopped, check_chat_id
from edge import uichats
from edge.deps import CurrentUser, StateDep
from edge.errors import BadRequest, NotFound, Unprocessable, error_responses
from edge.jobs import submit_job
from edge.uichat_chunks import ResetMode

router = APIRouter(prefix="/v1/ui/chat", tags=["ai-sdk"])
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "UI message stream v1"}
}
ChatIdPath = Annotated[str, Path(alias="chatId", pattern=CHAT_ID_PATTERN)]
ResetQuery = Annotated[
    ResetMode,
    Query(
        description="How a job reset is sent: `step` (`reset-step`, AI SDK 7) or `error` "
        "(AI SDK 5 and 6: an `error` chunk ends the stream; a resume shows the new attempt). "
        "Put it in the transport's `api` URL: the resume URL keeps it."
    ),
]


def _chat_id(chat_id: str) -> str:
    try:
        return check_chat_id(chat_id)
    except ValueError as exc:
        raise Unprocessable(ErrorCode.invalid_request, str(exc)) from exc


@router.post(
    "",
    response_model=None,
    responses={**_STREAM, **error_responses(400, 401, 404, 413, 422, 429, 503)},
)
async def send_messages(
    body: UIChatRequest, state: StateDep, user: CurrentUser, reset: ResetQuery = "step"
) -> Response:
    """One turn of a chat: starts a chat job and streams its answer as UI message chunks
    (`x-vercel-ai-ui-message-stream: v1`). The answer's message id is the job's id."""
    pool = state.store.pool_for(body.model)
    if pool.kind != ModelKind.chat:
        raise BadRequest(ErrorCode.invalid_request, f"{pool.name!r} is not a chat model")
    request = JobRequest(
        model=body.model, input={"messages": body.chat_messages()}, params=body.params
    )
    job_id = (await submit_job(state, user, request)).accepted.id
    await uichats.point(state, user, body.id, job_id)
    return uichats.stream_response(state, job_id, reset)


@router.get(
    "/{chatId}/stream",
    response_model=None,
    responses={
        **_STREAM,
        204: {"description": "Nothing to resume"},
        **error_responses(401, 422, 429, 503),
    },
)
async def reconnect_to_stream(
    chat_id: ChatIdPath, state: StateDep, user: CurrentUser, reset: ResetQuery = "step"
) -> Response:
    """The chat's running answer, replayed from its `start` (the same message id) and its
    current attempt (after the log's last `job-reset`); 204 when the chat has none running,
    or is not this user's."""
    record = await uichats.latest(state, user, _chat_id(chat_id))
    if record is None or record["status"] in TERMINAL_STATUSES:
        return Response(status_code=204)
    job_id, attempt = record["id"], int(record.get("attempt") or 1)
    after = await uichats.last_reset(state.redis, state.store.keys, job_id) if attempt > 1 else 0
    return uichats.stream_response(state, job_id, reset, after, max(attempt, 1))


@router.post("/{chatId}/stop", responses=error_responses(401, 404, 422, 429, 503))
async def stop(chat_id: ChatIdPath, state: StateDep, user: CurrentUser) -> UIChatStopped:
    """Cancel the chat's latest answer (the model stops); one that had ended keeps its
    status. 404 `not_found` for a chat this user does not have."""
    record = await uichats.latest(state, user, _chat_id(chat_id))
    status = await uichats.cancel(state, user, record["id"]) if record else None
    if record is None or status is None:
        raise NotFound(ErrorCode.not_found, f"no chat with id {chat_id[:40]!r}")
    return UIChatStopped(id=chat_id, job_id=record["id"], status=status)
