"""Positions in a job's event log as clients state them: checked before anything is read."""

import re

from contracts.errors import ErrorCode
from contracts.jobs import MAX_SAFE_INTEGER, TERMINAL_STATUSES
from edge.errors import BadRequest

_SEQ_TEXT = re.compile(r"[0-9]{1,16}")


def parse_last_event_id(value: str) -> int:
    """A `Last-Event-ID` as a seq: ASCII digits only, within the contract's bound."""
    if not _SEQ_TEXT.fullmatch(value) or int(value) > MAX_SAFE_INTEGER:
        raise BadRequest(
            ErrorCode.invalid_request,
            f"Last-Event-ID must be a seq number from 0 to {MAX_SAFE_INTEGER}",
        )
    return int(value)


def check_position(record: dict[str, str], after: int) -> None:
    """A position past the job's last seq names events that never were: refused at once."""
    last = int(record.get("seq", 0))
    if after > last:
        raise BadRequest(
            ErrorCode.seq_out_of_range,
            f"after {after} is past the job's last seq {last}",
        )


def has_nothing_after(record: dict[str, str], after: int) -> bool:
    """The job ended and the client has its last event: there is nothing left to send."""
    return record.get("status") in TERMINAL_STATUSES and int(record.get("seq", 0)) <= after
