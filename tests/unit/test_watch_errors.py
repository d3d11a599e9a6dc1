"""The `events_expired` error carries the job's final record with its stored output spliced
in as it is (never parsed), and means exactly the `WireError` the contract gives."""

import json

from contracts.jobs import JobStatus
from contracts.wire import WireError
from edge.records import OUTPUT, to_record
from edge.watch_errors import log_gone
from tests.unit.test_records import ENDED, QUEUED

# Not the form a parse and re-serialization gives (spaces, an exponent, 1.0e0): only a
# splice keeps it as it is.
RAW_OUTPUT = '{"embeddings": [[1.0e0, -2.5E-07, 3]], "dimensions": 3}'


def test_an_expired_log_answers_the_record_with_its_output_spliced_unparsed() -> None:
    job_id = ENDED["id"]
    data = log_gone(job_id, ENDED, RAW_OUTPUT)
    assert f'"output":{RAW_OUTPUT}}}}}' in data  # verbatim, the last field of the record
    expected = WireError(
        code="events_expired",
        message="the job's events have expired; its final record is attached",
        job_id=job_id,
        record=to_record({**ENDED, OUTPUT: RAW_OUTPUT}),
    )
    assert WireError.model_validate_json(data) == expected
    assert json.loads(data) == json.loads(expected.model_dump_json())


def test_an_expired_log_of_a_job_without_output_has_a_null_output() -> None:
    record = {**ENDED, "status": JobStatus.cancelled}
    error = json.loads(log_gone(record["id"], record, None))
    assert error["record"]["output"] is None and error["record"]["status"] == "cancelled"


def test_a_lost_job_has_no_record() -> None:
    for record in ({}, QUEUED):
        error = json.loads(log_gone("c" * 32, record))
        assert error["code"] == "job_lost" and error["record"] is None
