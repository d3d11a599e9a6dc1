"""The order of a shard's queue on real edge and worker processes, where main got it wrong:

- a batch job submitted while interactive jobs of its queue wait, waits for them (batch aging
  counts from when it began to wait); on main, the first batch job to come after a while went
  straight ahead of every interactive job waiting ("no batch job taken for the aging time"
  held, as none ever was);
- a user who cancels a backlog is not charged its turns: its next job is served about as
  soon as a new user's."""

import httpx
import pytest

from tests.integration.test_fairness import (
    all_succeeded,
    edge_for,
    header,
    start_order,
    submit_many,
    users_for,
)
from tests.support.stack import Stack
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


def test_a_new_batch_job_waits_for_the_interactive_jobs_of_its_queue(stack: Stack) -> None:
    chatter, batcher = users_for(stack, "same shard")
    edge = edge_for(stack, (chatter, batcher))
    chats = submit_many(edge, chatter, 30)
    stack.worker("sim", env={"WORKER_CONCURRENCY": "1"})

    def started() -> bool:
        response = httpx.get(f"{edge.url}/v1/jobs/{chats[0]}", headers=header(chatter))
        return bool(response.json()["status"] != "queued")

    wait_for(started, what="the interactive backlog to be running")
    batch = submit_many(edge, batcher, 1, priority="batch")
    order = start_order(all_succeeded(edge, {"chat": (chatter, chats), "batch": (batcher, batch)}))
    assert order.index("batch") >= 25, order  # behind the backlog, but for the few started


def test_a_cancelled_backlog_does_not_put_its_users_next_job_last(stack: Stack) -> None:
    """A user queues 30 jobs and cancels them all (over HTTP) while another user's 10 jobs
    wait in the same queue. On main the cancelled jobs' turns were still charged to the
    user: its next job started after every job of the other user."""
    canceller, other = users_for(stack, "same shard")
    edge = edge_for(stack, (canceller, other))
    backlog = submit_many(edge, canceller, 30)
    waiting = submit_many(edge, other, 10)
    with httpx.Client(base_url=edge.url, headers=header(canceller), timeout=30) as client:
        for job_id in backlog:
            assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    again = submit_many(edge, canceller, 1)
    stack.worker("sim", env={"WORKER_CONCURRENCY": "1"})
    order = start_order(
        all_succeeded(edge, {"again": (canceller, again), "other": (other, waiting)})
    )
    assert order.index("again") <= 2, order
