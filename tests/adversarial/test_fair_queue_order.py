"""A batch job submitted while interactive jobs of its shard's queue wait, on real edge and
worker processes: it waits for them (batch aging counts from when it began to wait). On
main, the first batch job to come after a while went straight ahead of every interactive job
waiting: "no batch job taken for the aging time" held, as none ever was."""

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
        return response.json()["status"] != "queued"

    wait_for(started, what="the interactive backlog to be running")
    batch = submit_many(edge, batcher, 1, priority="batch")
    order = start_order(all_succeeded(edge, {"chat": (chatter, chats), "batch": (batcher, batch)}))
    assert order.index("batch") >= 25, order  # behind the backlog, but for the few started
