"""The error body every route, WebSocket message and job end uses.

On the wire an error is `{"error": {"code": ..., "message": ...}}` (HTTP) or
`{"type": "error", "code": ..., "message": ...}` (WebSocket); never a traceback.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from contracts.jobs import JobRecord


class ErrorCode(StrEnum):
    # the caller's faults (4xx)
    invalid_json = "invalid_json"
    invalid_request = "invalid_request"
    unknown_model = "unknown_model"
    payload_too_large = "payload_too_large"
    unauthorized = "unauthorized"
    forbidden = "forbidden"  # an operator's view asked for by someone else
    job_not_found = "job_not_found"
    not_found = "not_found"
    method_not_allowed = "method_not_allowed"
    unknown_message_type = "unknown_message_type"
    rate_limited = "rate_limited"
    slow_consumer = "slow_consumer"
    context_length_exceeded = "context_length_exceeded"
    origin_not_allowed = "origin_not_allowed"
    host_not_allowed = "host_not_allowed"
    invalid_ticket = "invalid_ticket"
    input_too_large = "input_too_large"
    too_many_connections = "too_many_connections"
    too_many_guests = "too_many_guests"
    seq_out_of_range = "seq_out_of_range"
    events_expired = "events_expired"
    storage_quota = "storage_quota"
    token_quota = "token_quota"  # the user's tokens of the current quota window are used up
    unsupported_parameter = "unsupported_parameter"  # a param the model's engine cannot honour
    job_running = "job_running"  # a response deleted before its job ended (being cancelled)
    # ours or the model's (5xx, or a failed job)
    redis_unavailable = "redis_unavailable"
    queue_full = "queue_full"
    internal_error = "internal_error"
    engine_error = "engine_error"
    worker_lost = "worker_lost"
    upstream_error = "upstream_error"
    upstream_timeout = "upstream_timeout"
    upstream_unavailable = "upstream_unavailable"
    dead_lettered = "dead_lettered"
    job_lost = "job_lost"
    # a job that hit its pool's limits (`max_seconds`, `max_output_bytes`)
    timeout = "timeout"
    output_too_large = "output_too_large"
    edge_full = "edge_full"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str


class ErrorBody(BaseModel):
    """What every 4xx and 5xx response carries."""

    error: ErrorDetail


class ExpiredBody(ErrorBody):
    """`410 events_expired`: a resume after the job's event log expired, with the job's
    final record (its output included) instead of its events."""

    record: JobRecord


WS_CLOSE_SLOW_CONSUMER = 4008
"""WebSocket close code for a client whose bounded queue overflowed: it did not read."""

WS_CLOSE_UNAUTHORIZED = 4001
"""WebSocket close code for a connection without a valid identity."""

WS_CLOSE_TOO_MANY = 4029
"""WebSocket close code for a connection over one of its user's limits: too many open
connections (reason `too_many_connections: ...`), too many requests (`rate_limited: ...`) or
too many new guest ids from its address (`too_many_guests: ...`). Reconnect after a backoff."""

WS_CLOSE_TRY_AGAIN_LATER = 1013
"""WebSocket close code (RFC 6455 "Try Again Later") for a connection refused because its
edge has the most connections it takes (`edge_full: ...`): reconnect, to any edge."""
