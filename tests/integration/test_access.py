"""A job is visible only to its owner: any other user gets the same 404 as for a missing job,
on every route, the WebSocket and SSE included."""

import json
import uuid

import httpx
import pytest

from tests.support.client import submit, ws_connect
from tests.support.stack import Stack, auth

pytestmark = [pytest.mark.integration, pytest.mark.on_cluster_too]


async def test_another_users_job_is_a_404_everywhere(stack: Stack) -> None:
    edge = stack.edge()
    job_id = submit(edge, user="alice")
    missing = uuid.uuid4().hex

    def answers(job: str) -> list[tuple[int, dict[str, str]]]:
        bob = auth("bob")
        responses = [
            httpx.get(f"{edge.url}/v1/jobs/{job}", headers=bob),
            httpx.post(f"{edge.url}/v1/jobs/{job}/cancel", headers=bob),
            httpx.get(f"{edge.url}/v1/jobs/{job}/events", headers=bob),
        ]
        return [(response.status_code, response.json()["error"]) for response in responses]

    for status, error in answers(job_id):
        assert status == 404 and error["code"] == "job_not_found"
    # Identical to a job that does not exist, apart from the id in the message.
    assert [(s, e["code"]) for s, e in answers(job_id)] == [
        (s, e["code"]) for s, e in answers(missing)
    ]

    listed = httpx.get(f"{edge.url}/v1/jobs", headers=auth("bob")).json()
    assert listed["data"] == []

    async with ws_connect(edge, user="bob") as connection:
        for message in (
            {"type": "subscribe", "job_id": job_id},
            {"type": "cancel", "job_id": job_id},
        ):
            await connection.send(json.dumps({**message, "ref": "r1"}))
            reply = json.loads(await connection.recv())
            assert reply == {
                "type": "error",
                "code": "job_not_found",
                "ref": "r1",
                "job_id": job_id,
                "message": f"no job with id {job_id!r}",
                "record": None,
            }
    # Bob's attempts changed nothing: the job is still Alice's and still queued.
    record = httpx.get(f"{edge.url}/v1/jobs/{job_id}", headers=auth("alice")).json()
    assert record["status"] == "queued"


def test_requests_without_a_valid_key_are_refused(stack: Stack) -> None:
    edge = stack.edge()
    no_key = httpx.get(f"{edge.url}/v1/jobs")
    wrong_key = httpx.get(f"{edge.url}/v1/jobs", headers={"Authorization": "Bearer nope"})
    for response in (no_key, wrong_key):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_guest_mode_gives_each_browser_its_own_user(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_GUEST_MODE": "true"})
    with httpx.Client(base_url=edge.url) as first, httpx.Client(base_url=edge.url) as second:
        body = {"model": "sim", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        job_id = first.post("/v1/jobs", json=body).json()["id"]
        assert first.cookies.get("rl_guest")
        assert first.get(f"/v1/jobs/{job_id}").status_code == 200
        assert second.get(f"/v1/jobs/{job_id}").status_code == 404


def test_a_guest_keeps_its_jobs_on_another_edge_and_after_a_restart(stack: Stack) -> None:
    """Edges share the guest secret: a guest's signed cookie is good on every edge, and on a
    new edge process after the first one stopped (`relayline up` keeps its secret)."""
    first = stack.edge(env={"EDGE_GUEST_MODE": "true"})
    with httpx.Client(base_url=first.url) as guest:
        body = {"model": "sim", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        job_id = guest.post("/v1/jobs", json=body).json()["id"]
        cookie = guest.cookies["rl_guest"]
    first.stop()
    second = stack.edge(env={"EDGE_GUEST_MODE": "true"})
    with httpx.Client(base_url=second.url, cookies={"rl_guest": cookie}) as guest:
        assert guest.get(f"/v1/jobs/{job_id}").status_code == 200
    other_secret = {"EDGE_GUEST_MODE": "true", "EDGE_GUEST_SECRET": "o" * 40}
    stranger = stack.edge(env=other_secret)
    with httpx.Client(base_url=stranger.url, cookies={"rl_guest": cookie}) as guest:
        assert guest.get(f"/v1/jobs/{job_id}").status_code == 404
