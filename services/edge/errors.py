"""The edge's error tree and its translation to HTTP.

    ApiError (status, code, message)
     ├── BadRequest          400  invalid_json / invalid_request / unknown_message_type
     │    └── UnsupportedParameter 400  unsupported_parameter (OpenAI routes: with `param`)
     ├── Unauthorized        401  unauthorized
     ├── Forbidden           403  forbidden (an operators' option)
     ├── NotFound            404  job_not_found / unknown_model / not_found
     ├── Conflict            409  job_running (a response deleted before its job could end)
     ├── Gone                410  events_expired / job_lost (a response's stream)
     ├── Unprocessable       422  invalid_request (input that does not fit the model)
     ├── PayloadTooLarge     413  payload_too_large
     ├── TooManyRequests     429  rate_limited (a user's limit of unfinished jobs),
     │                            storage_quota / token_quota (with Retry-After)
     └── ServiceUnavailable  503  redis_unavailable / queue_full (with Retry-After)

Request validation errors, Starlette's HTTP errors and Redis connection errors are translated
here, in one place; anything else becomes a 500 `internal_error` without a traceback.
"""

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.errors import ErrorBody, ErrorCode
from contracts.openai import UNSUPPORTED_PARAMETER, OpenAIErrorBody

log = logging.getLogger("relayline.edge")


class ApiError(Exception):
    status = 400

    def __init__(
        self, code: ErrorCode | str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class UnsupportedParameter(BadRequest):
    """A param the request's pool cannot honour (`contracts.passthrough`): `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(ErrorCode.unsupported_parameter, message)
        self.param = param


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Gone(ApiError):
    status = 410


class Unprocessable(ApiError):
    status = 422


class PayloadTooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    status = 429


class ServiceUnavailable(ApiError):
    status = 503


def job_not_found(job_id: str) -> NotFound:
    """The one answer for a job that does not exist and for another user's job."""
    return NotFound(ErrorCode.job_not_found, f"no job with id {job_id[:40]!r}")


_BUSY_REPLIES = ("LOADING", "BUSY", "READONLY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN")
_FULL_REPLIES = ("OOM", "MISCONF", "NOREPLICAS")


def redis_failure(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for a Redis failure that is not the caller's fault nor a bug of ours: Redis
    unreachable or restarting (retry in a second), out of memory or unable to persist
    (retry later); None for anything else. Script errors carry Redis's reply inside their
    message, hence the search for the reply's first word."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return ServiceUnavailable(
            ErrorCode.redis_unavailable,
            "the job store is unreachable; retry shortly",
            headers={"Retry-After": "1"},
        )
    if not isinstance(exc, ResponseError):
        return None
    words = set(str(exc).replace("-", " ").replace(":", " ").split())
    if isinstance(exc, OutOfMemoryError) or words & set(_FULL_REPLIES):
        return ServiceUnavailable(
            ErrorCode.redis_unavailable,
            "the job store is full; retry later",
            headers={"Retry-After": "5"},
        )
    busy = isinstance(exc, ReadOnlyError | ClusterDownError | TryAgainError)
    if busy or words & set(_BUSY_REPLIES):
        return ServiceUnavailable(
            ErrorCode.redis_unavailable,
            "the job store is busy; retry shortly",
            headers={"Retry-After": "1"},
        )
    return None


_STATUS_TEXT = {
    400: "Bad request: malformed JSON, header or query value",
    401: "No valid API key (or guest cookie)",
    403: "Only an operator (EDGE_OPERATORS) may see this",
    404: "No such job (or not yours), or no such model",
    409: "The job was cancelled (a response: it has not ended yet)",
    410: "The job's event log expired",
    413: "The request body is too large",
    422: "The body does not fit the contract or the model",
    429: "Too many unfinished jobs or requests, or a quota used up; see Retry-After",
    500: "A bug of ours; it is logged",
    502: "The upstream model failed",
    503: "Redis is unreachable or full, or the queue is full; see Retry-After",
    504: "The upstream model timed out",
}


def error_responses(*statuses: int, openai: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: every error status it may answer, with its body."""
    model = OpenAIErrorBody if openai else ErrorBody
    return {status: {"model": model, "description": _STATUS_TEXT[status]} for status in statuses}


def expired_response(job_id: str, record: str) -> Response:
    """`410 events_expired` (an `ExpiredBody`) with the job's final record, `JobRecord` JSON
    from `edge.records` (its output spliced in, never parsed)."""
    error = {
        "code": ErrorCode.events_expired,
        "message": f"the events of job {job_id} have expired; its final record is attached",
    }
    body = f'{{"error":{json.dumps(error)},"record":{record}}}'
    return Response(body, 410, media_type="application/json")


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers or None)


OPENAI_PATHS = ("/v1/chat/completions", "/v1/embeddings")
RESPONSES_PATH = "/v1/responses"


def is_openai_path(path: str) -> bool:
    """A route that answers in OpenAI's shapes: chat completions, embeddings, and every
    route under `/v1/responses`."""
    return path in OPENAI_PATHS or path == RESPONSES_PATH or path.startswith(RESPONSES_PATH + "/")


_OPENAI_CODES: dict[str, str] = {ErrorCode.unknown_model: "model_not_found"}


def openai_error_body(
    status: int, code: str, message: str, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`; also sent as
    a chunk when a stream fails after it started. `param` names the field at fault."""
    kinds = {401: "authentication_error", 429: "rate_limit_error"}
    kind = kinds.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    code = _OPENAI_CODES.get(code, code)
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    return JSONResponse(openai_error_body(status, code, message, param), status, headers)


def openai_validation_error(errors: list[dict[str, Any]]) -> JSONResponse:
    """A body the OpenAI routes refuse: `400`, `param` naming the first field at fault
    (dotted, e.g. `stream_options.include_usage`), `unsupported_parameter` for a field
    the engines cannot honour (`contracts.openai.HARMLESS`)."""
    code, message = describe_validation_error(errors)
    first = errors[0] if errors and code != ErrorCode.invalid_json else {}
    location = [str(part)[:60] for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location)[:200] or None
    if first.get("type") == UNSUPPORTED_PARAMETER:
        code, message = ErrorCode.unsupported_parameter, str(first.get("msg"))
    return openai_error(400, code, message, param=param)


def _respond(
    request: Request, status: int, code: str, message: str, **headers: str
) -> JSONResponse:
    if is_openai_path(request.url.path):
        return openai_error(400 if status == 422 else status, code, message, headers or None)
    return error_response(status, code, message, **headers)


def describe_validation_error(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """The code and a one-line message for pydantic's errors, naming the first field."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return ErrorCode.invalid_json, "the request body is not valid JSON"
    parts = []
    for error in errors[:3]:
        location = ".".join(str(part)[:60] for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location[:200] or 'body'}: {str(error.get('msg', 'invalid'))[:300]}")
    # a field name the client sent may hold a lone surrogate: never echo what cannot be sent
    message = "; ".join(parts).encode("utf-8", "backslashreplace").decode("utf-8")
    return ErrorCode.invalid_request, message


_HTTP_CODES = {
    404: ErrorCode.not_found,
    405: ErrorCode.method_not_allowed,
    413: ErrorCode.payload_too_large,
    429: ErrorCode.rate_limited,
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        if isinstance(exc, UnsupportedParameter) and request.url.path in OPENAI_PATHS:
            return openai_error(exc.status, exc.code, exc.message, param=exc.param)
        return _respond(request, exc.status, exc.code, exc.message, **exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [dict(error) for error in exc.errors()]
        if is_openai_path(request.url.path):
            return openai_validation_error(errors)
        code, message = describe_validation_error(errors)
        return error_response(400 if code == ErrorCode.invalid_json else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.invalid_request)
        return _respond(request, exc.status_code, code, str(exc.detail), **(exc.headers or {}))

    async def redis_failed(request: Request, exc: Exception) -> JSONResponse:
        failure = redis_failure(exc)
        if failure is None:
            return await internal(request, exc)
        log.warning("redis failure: %s", exc)
        return _respond(request, failure.status, failure.code, failure.message, **failure.headers)

    app.add_exception_handler(RedisError, redis_failed)
    app.add_exception_handler(OSError, redis_failed)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _respond(
            request, 500, ErrorCode.internal_error, "internal error; it has been logged"
        )
