"""A job's record as its owner gets it: JSON built without parsing the stored output.

A job's output is stored once, in its record, as JSON text (up to a pool's
`max_output_bytes`, 16 MiB for embeddings). Parsing and re-serializing it would cost the
event loop close to a second per read, so the record's small fields are validated as a
`JobRecord` and the stored output is spliced in as it is, as `edge.ends` does for `job-end`.
"""

import json
from typing import Any

from contracts.jobs import JobRecord, JobStatus, Priority
from edge.ends import with_output

OUTPUT = "output"
FIELDS = (
    "id",
    "owner",
    "model",
    "status",
    "attempt",
    "created_at",
    "started_at",
    "finished_at",
    "worker",
    "seq",
    "log_ttl",
    "usage",
    "error",
    "priority",
)
"""The record's fields but its output: what a check of ownership or status reads."""


def present(values: list[str | None]) -> dict[str, str]:
    """The raw record from the values of `FIELDS` (an `HMGET`), without missing fields."""
    return {name: value for name, value in zip(FIELDS, values, strict=True) if value is not None}


def waiting(raw: dict[str, str]) -> tuple[str, str, Priority] | None:
    """What finds a queued job's place in its queue: `(id, pool, priority)`; None for a job
    that is not queued."""
    if raw.get("status") != JobStatus.queued:
        return None
    return raw["id"], raw["model"], Priority(raw.get("priority", Priority.interactive))


def _loads(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def to_record(raw: dict[str, str]) -> JobRecord:
    """The record as a model; its output is parsed only if `raw` holds one."""

    def number(name: str) -> float | None:
        value = raw.get(name)
        return float(value) if value else None

    return JobRecord(
        id=raw["id"],
        model=raw["model"],
        status=JobStatus(raw["status"]),
        priority=Priority(raw.get("priority", Priority.interactive)),
        position=int(raw["position"]) if "position" in raw else None,
        attempt=int(raw.get("attempt", 0)),
        created_at=float(raw["created_at"]),
        started_at=number("started_at"),
        finished_at=number("finished_at"),
        worker=raw.get("worker"),
        last_seq=int(raw.get("seq", 0)),
        output=_loads(raw.get(OUTPUT)),
        usage=_loads(raw.get("usage")),
        error=_loads(raw.get("error")),
    )


def record_json(raw: dict[str, str], output: str | None) -> str:
    """The `JobRecord` JSON of a raw record (without its output) and its stored output,
    raw JSON text (`None` or empty: `null`), spliced in unparsed as the last field."""
    head = to_record(raw).model_dump_json(exclude={OUTPUT})
    return with_output(head, output)


def list_json(records: list[str], next_cursor: str | None) -> str:
    """The `JobList` JSON of records already serialized by `record_json`."""
    return f'{{"data":[{",".join(records)}],"next_cursor":{json.dumps(next_cursor)}}}'


def page_size(sizes: list[int], budget: int) -> int:
    """How many records, newest first, a page holds: those whose outputs (`sizes`, in
    bytes) fit within `budget` together, and always the first."""
    total = 0
    for count, size in enumerate(sizes):
        total += size
        if count and total > budget:
            return count
    return len(sizes)
