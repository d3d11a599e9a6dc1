"""Job records over HTTP are built with the stored output spliced in unparsed: each answer
must be what the `JobRecord`/`JobList` contract gives for the record in Redis, and a page of
`GET /v1/jobs` stops at `EDGE_LIST_MAX_BYTES` of outputs, its cursor going on from there."""

from typing import Any

import httpx
import pytest

from contracts.jobs import JobList, JobRecord
from edge.records import to_record
from tests.support.client import assert_complete, submit, ws_follow
from tests.support.stack import Edge, Stack, auth

pytestmark = pytest.mark.integration


def stored(stack: Stack, job_id: str, position: int | None = None) -> dict[str, Any]:
    """The job's record as Redis holds it, with the `position` the edge adds while it waits
    (the record does not hold it: it is read from the job's queue)."""
    client = stack.redis()
    try:
        raw: dict[str, str] = client.hgetall(stack.keys.job(job_id))  # type: ignore[assignment]
    finally:
        client.close()
    return to_record(raw).model_dump(mode="json") | {"position": position}


def answer(edge: Edge, method: str, path: str) -> httpx.Response:
    response = httpx.request(method, f"{edge.url}{path}", headers=auth(), timeout=10)
    assert response.headers["content-type"] == "application/json", response.headers
    return response


async def test_records_are_what_the_contract_says(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    ended = submit(edge, model="sim", params={"max_tokens": 12})
    assert_complete(await ws_follow(edge, ended))
    queued = submit(edge, model="slow")  # no worker: queued, no output yet

    for job_id, position in ((ended, None), (queued, 0)):  # nothing waits ahead of it
        response = answer(edge, "GET", f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        assert JobRecord.model_validate_json(response.text).model_dump(mode="json") == stored(
            stack, job_id, position
        )
        assert response.json() == stored(stack, job_id, position)
    assert stored(stack, ended)["output"]["text"]
    assert stored(stack, queued)["output"] is None

    listed = answer(edge, "GET", "/v1/jobs")
    assert listed.status_code == 200, listed.text
    assert JobList.model_validate_json(listed.text).next_cursor is None
    assert listed.json()["data"] == [stored(stack, queued, 0), stored(stack, ended)]

    cancelled = answer(edge, "POST", f"/v1/jobs/{queued}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json() == stored(stack, queued)
    assert cancelled.json()["status"] == "cancelled"


async def test_a_page_stops_at_its_byte_budget_and_its_cursor_goes_on(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_LIST_MAX_BYTES": "1024"})
    stack.worker("sim")
    jobs = []
    for _ in range(3):  # each output over 1 KiB: one a page
        jobs.append(submit(edge, model="sim", params={"max_tokens": 300}))
        assert_complete(await ws_follow(edge, jobs[-1]))
    smalls = []
    for _ in range(2):
        smalls.append(submit(edge, model="sim", params={"max_tokens": 2}))
        assert_complete(await ws_follow(edge, smalls[-1]))
    newest_first = [*reversed(smalls), *reversed(jobs)]

    pages: list[list[str]] = []
    cursor: str | None = ""
    while cursor is not None:
        query = f"&cursor={cursor}" if cursor else ""
        response = answer(edge, "GET", f"/v1/jobs?limit=10{query}")
        assert response.status_code == 200, response.text
        page = JobList.model_validate_json(response.text)
        pages.append([record.id for record in page.data])
        cursor = page.next_cursor
        assert len(pages) <= len(newest_first), pages
    # the small outputs fit together; a large one passes the budget alone
    assert pages == [[smalls[1], smalls[0]], [jobs[2]], [jobs[1]], [jobs[0]]], pages
