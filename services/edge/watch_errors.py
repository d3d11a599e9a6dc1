"""Why a subscription ended without `job-end`: the errors the fan-out sends a subscriber."""

import logging

from redis.exceptions import ResponseError

from contracts.errors import ErrorCode
from contracts.jobs import TERMINAL_STATUSES
from contracts.wire import WireError
from edge.records import to_record

log = logging.getLogger("relayline.fanout")


def log_gone(job_id: str, record: dict[str, str]) -> WireError:
    """The job's event log is empty: it expired after the job ended (its record, kept
    longer, is sent instead), or the job was lost with Redis."""
    if record.get("status") in TERMINAL_STATUSES:
        return WireError(
            code=ErrorCode.events_expired,
            message="the job's events have expired; its final record is attached",
            job_id=job_id,
            record=to_record(record),
        )
    return WireError(
        code=ErrorCode.job_lost,
        message="the job and its events were lost when Redis restarted without "
        "persistence; submit it again",
        job_id=job_id,
    )


def read_failed(job_id: str, exc: ResponseError) -> WireError:
    """Redis refused a read of this job's log: only this subscription ends."""
    log.warning("a read of job %s's events was refused: %s", job_id, exc)
    return WireError(
        code=ErrorCode.internal_error,
        message="the job's events could not be read; subscribe again later",
        job_id=job_id,
    )
