"""The edge's error tree and its translation to HTTP.

    ApiError (status, code, message)
     ├── BadRequest          400  invalid_json / invalid_request / unknown_message_type
     ├── Unauthorized        401  unauthorized
     ├── NotFound            404  job_not_found / unknown_model / not_found
 ├── Unprocessable       422  invalid_request (input that does not fit the model)
     ├── PayloadTooLarge     413  payload_too_large
 ├── TooManyRequests     429  rate_limited (a user's limit of unfinished jobs, with Retry-After)
     └── ServiceUnavailable  503  redis_unavailable / queue_full (with Retry-After)

Request validation errors, Starlette's HTTP errors and Redis connection errors are translated
here, in one place; anything else becomes a 500 `internal_error` without a traceback.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.errors import ErrorCode

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


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


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
    return NotFound(ErrorCode.job_not_found, f"no job with id {job_id!r}")


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers or None)


OPENAI_PATHS = ("/v1/chat/completions", "/v1/embeddings")
_OPENAI_CODES: dict[str, str] = {ErrorCode.unknown_model: "model_not_found"}


def openai_error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`; also sent as
    a chunk when a stream fails after it started."""
    kinds = {401: "authentication_error", 429: "rate_limit_error"}
    kind = kinds.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    code = _OPENAI_CODES.get(code, code)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def openai_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(openai_error_body(status, code, message), status, headers)


def _respond(
    request: Request, status: int, code: str, message: str, **headers: str
) -> JSONResponse:
    if request.url.path in OPENAI_PATHS:
        return openai_error(400 if status == 422 else status, code, message, headers or None)
    return error_response(status, code, message, **headers)


def describe_validation_error(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """The code and a one-line message for pydantic's errors, naming the first field."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return ErrorCode.invalid_json, "the request body is not valid JSON"
    parts = []
    for error in errors[:3]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return ErrorCode.invalid_request, "; ".join(parts)


_HTTP_CODES = {404: ErrorCode.not_found, 405: ErrorCode.method_not_allowed}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _respond(request, exc.status, exc.code, exc.message, **exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = describe_validation_error([dict(error) for error in exc.errors()])
        return _respond(request, 400 if code == ErrorCode.invalid_json else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.invalid_request)
        return _respond(request, exc.status_code, code, str(exc.detail))

    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("redis unavailable: %s", exc)
        return _respond(
            request,
            503,
            ErrorCode.redis_unavailable,
            "the job store is unreachable; retry shortly",
            **{"Retry-After": "1"},
        )

    @app.exception_handler(OutOfMemoryError)
    async def redis_full(request: Request, exc: OutOfMemoryError) -> JSONResponse:
        log.error("redis is out of memory (maxmemory with noeviction): %s", exc)
        return _respond(
            request,
            503,
            ErrorCode.redis_unavailable,
            "the job store is full; retry later",
            **{"Retry-After": "5"},
        )

    app.add_exception_handler(RedisConnectionError, redis_down)
    app.add_exception_handler(RedisTimeoutError, redis_down)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _respond(
            request, 500, ErrorCode.internal_error, "internal error; it has been logged"
        )
