"""OpenAI-compatible routes: any OpenAI client works with `base_url` pointed at the edge.

A request here is an ordinary job (an id, an event log, an owner; it can be cancelled at
`/v1/jobs/{id}/cancel`): the answer's `id` is `chatcmpl-<job id>` and the header
`X-Relayline-Job-Id` names the job. Errors on these routes use OpenAI's shape.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from contracts.errors import ErrorCode
from contracts.jobs import JobRequest
from contracts.openai import ChatCompletionRequest, EmbeddingsRequest, passthrough_params
from contracts.pools import ModelKind
from edge.chat_choices import completion_choices, end_chunks
from edge.deps import CurrentUser, EdgeState, StateDep
from edge.embeddings_answer import answer, split_end, vectors_of
from edge.errors import BadRequest, error_responses, openai_error, openai_error_body
from edge.fanout import LOST, is_end
from edge.follow import IDLE, follow
from edge.jobs import submit_job

router = APIRouter(prefix="/v1", tags=["openai"])
_ERRORS = error_responses(400, 401, 404, 409, 413, 429, 500, 502, 503, 504, openai=True)

_FAILED_STATUS = {
    ErrorCode.context_length_exceeded: 400,
    ErrorCode.invalid_request: 400,
    ErrorCode.output_too_large: 400,
    ErrorCode.unsupported_parameter: 400,
    ErrorCode.timeout: 504,
    ErrorCode.upstream_error: 502,
    ErrorCode.upstream_unavailable: 502,
    ErrorCode.upstream_timeout: 504,
}


async def _submit(state: EdgeState, user: str, request: JobRequest, kind: ModelKind) -> str:
    pool = state.store.pool_for(request.model)
    if pool.kind != kind:
        route = "/v1/chat/completions" if pool.kind == ModelKind.chat else "/v1/embeddings"
        raise BadRequest(
            ErrorCode.invalid_request, f"{pool.name!r} is a {pool.kind} model: use {route}"
        )
    return (await submit_job(state, user, request)).accepted.id


async def _end_of(state: EdgeState, job_id: str) -> tuple[dict[str, Any], str | None]:
    """The job's `job-end` event (only that one is read), or a failure if it was lost. An
    embeddings output comes back as raw JSON, unparsed (see `edge.embeddings_answer`)."""
    lost_stream = {"code": "internal_error", "message": "stream lost"}
    async for seq, data in follow(state, job_id):
        if seq == LOST:
            lost = json.loads(data)
            error = {"code": lost["code"], "message": lost["message"]}
            return {"status": "failed", "error": error}, None
        if is_end(data):
            return split_end(data)
    return {"status": "failed", "error": lost_stream}, None


def _failure(end: dict[str, Any]) -> tuple[int, str, str]:
    """(status, code, message) for a job that did not succeed."""
    error = end.get("error") or {"code": ErrorCode.internal_error, "message": "the job failed"}
    if end["status"] == "cancelled":
        error = {"code": "cancelled", "message": "the job was cancelled"}
    status = _FAILED_STATUS.get(error["code"], 500 if end["status"] == "failed" else 409)
    return status, error["code"], error["message"]


def _failure_response(end: dict[str, Any], job_id: str) -> JSONResponse:
    return openai_error(*_failure(end), {"X-Relayline-Job-Id": job_id})


@router.post("/chat/completions", response_model=None, responses=_ERRORS)
async def chat_completions(
    body: ChatCompletionRequest, state: StateDep, user: CurrentUser
) -> Response:
    """OpenAI's chat completions; `stream: true` answers with SSE chunks and `[DONE]`."""
    messages = [
        {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
        for m in body.messages
    ]
    params = {
        "max_tokens": body.max_completion_tokens or body.max_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "seed": body.seed,
        "stop": body.stop,
    }
    params = {key: value for key, value in params.items() if value is not None}
    request = JobRequest(
        model=body.model,
        input={"messages": messages},
        params={**params, **passthrough_params(body)},  # refused at submit where unhonoured
    )
    job_id = await _submit(state, user, request, ModelKind.chat)
    headers = {"X-Relayline-Job-Id": job_id}
    head = {"id": f"chatcmpl-{job_id}", "created": int(time.time()), "model": body.model}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _chunks(state, job_id, head, include_usage)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)
    end, raw = await _end_of(state, job_id)
    if end["status"] != "succeeded":
        return _failure_response(end, job_id)
    output = (json.loads(raw) if raw else end.get("output")) or {}
    completion = {
        **head,
        "object": "chat.completion",
        "choices": completion_choices(output),
        "usage": end.get("usage"),
    }
    return JSONResponse(completion, headers=headers)


async def _chunks(
    state: EdgeState, job_id: str, head: dict[str, Any], include_usage: bool
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, str]) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        return _sse({**head, "object": "chat.completion.chunk", "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    sent_text = False
    async for seq, data in follow(state, job_id, idle_seconds=state.settings.sse_keepalive_seconds):
        if (seq, data) == IDLE:
            yield ": keepalive\n\n"
            continue
        event = json.loads(data)
        if seq == LOST:
            yield _sse(openai_error_body(500, event["code"], event["message"]))
            return
        if event["type"] == "text-delta":
            sent_text = True
            yield chunk({"content": event["delta"]})
        elif event["type"] == "job-reset" and sent_text:
            message = (
                "the job was restarted after a worker failure; "
                f"follow /v1/jobs/{job_id}/events instead"
            )
            yield _sse(openai_error_body(500, "job_reset", message))
            return
        elif event["type"] == "job-end":
            if event["status"] != "succeeded":
                yield _sse(openai_error_body(*_failure(event)))
                return
            for choices in end_chunks(event.get("output") or {}):
                yield _sse({**head, "object": "chat.completion.chunk", "choices": choices})
            if include_usage:
                yield _sse(
                    {
                        **head,
                        "object": "chat.completion.chunk",
                        "choices": [],
                        "usage": event.get("usage"),
                    }
                )
            yield "data: [DONE]\n\n"
            return
    yield _sse(openai_error_body(500, "slow_consumer", "the stream fell behind and was cut off"))


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


@router.post("/embeddings", response_model=None, responses=_ERRORS)
async def embeddings(body: EmbeddingsRequest, state: StateDep, user: CurrentUser) -> Response:
    """OpenAI's embeddings, as floats or base64 (little-endian float32)."""
    texts = [body.input] if isinstance(body.input, str) else body.input
    request = JobRequest(model=body.model, input={"texts": texts})
    job_id = await _submit(state, user, request, ModelKind.embeddings)
    end, raw = await _end_of(state, job_id)
    if end["status"] != "succeeded":
        return _failure_response(end, job_id)
    if raw is None:  # an older `job-end` with its output inside: parsed already
        raw = json.dumps(end["output"], separators=(",", ":"))
    vectors, dimensions = await asyncio.to_thread(vectors_of, raw)
    if body.dimensions and vectors and body.dimensions != dimensions:
        raise BadRequest(
            ErrorCode.invalid_request,
            f"this model has {dimensions} dimensions; it cannot give {body.dimensions}",
        )
    # copying (or, for base64, parsing) up to 2048 vectors: off the event loop
    usage = end.get("usage") or {}
    content = await asyncio.to_thread(answer, vectors, body.encoding_format, body.model, usage)
    headers = {"X-Relayline-Job-Id": job_id}
    return Response(content, media_type="application/json", headers=headers)
