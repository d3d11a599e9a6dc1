"""A record's JSON is built with its stored output spliced in unparsed: it must be exactly
what the `JobRecord`/`JobList` contract gives for the parsed record."""

import json
from typing import Any

import pytest

from contracts.jobs import JobList, JobRecord
from edge.records import OUTPUT, list_json, page_size, record_json, to_record

ENDED = {
    "id": "a" * 32,
    "owner": "alice",
    "model": "embed",
    "status": "succeeded",
    "attempt": "1",
    "created_at": "1700000000.25",
    "started_at": "1700000001.5",
    "finished_at": "1700000002.75",
    "worker": "w-1",
    "seq": "3",
    "log_ttl": "3600",
    "usage": '{"prompt_tokens":4,"total_tokens":4}',
    "error": "null",
}
QUEUED = {"id": "b" * 32, "owner": "bob", "model": "sim", "status": "queued", "created_at": "1.0"}


@pytest.mark.parametrize(
    ("raw", "output"),
    [
        (ENDED, '{"embeddings":[[0.1,-2.5e-07,3.0]],"dimensions":3}'),
        (ENDED, '{"text":"caf\\u00e9 \\"quoted\\" \\u2603 \\ud83d\\ude00","finish_reason":"stop"}'),
        (ENDED, "null"),
        (QUEUED, None),
        (QUEUED, ""),
    ],
)
def test_a_spliced_record_is_the_contracts_record(raw: dict[str, str], output: str | None) -> None:
    spliced = record_json(raw, output)
    expected = to_record({**raw, OUTPUT: output} if output else raw)
    assert JobRecord.model_validate_json(spliced) == expected
    assert json.loads(spliced) == json.loads(expected.model_dump_json())


@pytest.mark.parametrize("cursor", [None, "1700000000.25"])
def test_a_spliced_list_is_the_contracts_list(cursor: str | None) -> None:
    records = [record_json(ENDED, '{"embeddings":[]}'), record_json(QUEUED, None)]
    body = list_json(records, cursor)
    parsed: dict[str, Any] = json.loads(body)
    assert JobList.model_validate_json(body).next_cursor == cursor
    assert parsed["data"] == [json.loads(record) for record in records]
    assert json.loads(list_json([], None)) == {"data": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("sizes", "budget", "count"),
    [
        ([], 10, 0),
        ([50], 10, 1),  # always one, however large
        ([5, 5, 1], 10, 2),
        ([4, 6, 0, 0], 10, 4),
        ([0, 11], 10, 1),
        ([3, 3, 3], 10, 3),
    ],
)
def test_a_page_holds_outputs_within_its_budget(sizes: list[int], budget: int, count: int) -> None:
    assert page_size(sizes, budget) == count
