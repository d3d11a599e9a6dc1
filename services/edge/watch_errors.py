"""Why a subscription ended without `job-end`: the errors the fan-out sends a subscriber,
as the JSON of a `WireError`."""

import logging

from redis.exceptions import ResponseError

from contracts.errors import ErrorCode
from contracts.jobs import TERMINAL_STATUSES
from contracts.wire import WireError
from edge.records import record_json

log = logging.getLogger("relayline.fanout")


def log_gone(job_id: str, record: dict[str, str], output: str | None = None) -> str:
    """The job's event log is empty: it expired after the job ended (its record, kept
    longer, is sent instead), or the job was lost with Redis.

    `record` is the raw record without its output (`edge.records.FIELDS`) and `output` the
    stored output's JSON text: spliced in as it is (up to 16 MiB), never parsed on the loop.
    """
    if record.get("status") in TERMINAL_STATUSES:
        head = WireError(
            code=ErrorCode.events_expired,
            message="the job's events have expired; its final record is attached",
            job_id=job_id,
        ).model_dump_json(exclude={"record"})  # `record` is the last field: spliced after
        return f'{head[:-1]},"record":{record_json(record, output)}}}'
    return WireError(
        code=ErrorCode.job_lost,
        message="the job and its events were lost when Redis restarted without "
        "persistence; submit it again",
        job_id=job_id,
    ).model_dump_json()


def read_failed(job_id: str, exc: ResponseError) -> str:
    """Redis refused a read of this job's log: only this subscription ends."""
    log.warning("a read of job %s's events was refused: %s", job_id, exc)
    return WireError(
        code=ErrorCode.internal_error,
        message="the job's events could not be read; subscribe again later",
        job_id=job_id,
    ).model_dump_json()
