"""The operators' queue report (`GET /v1/queue`) stays bounded however many accounts wait."""

import uuid

import pytest
from redis.asyncio import Redis

from contracts.jobs import QUEUE_REPORT_USERS
from contracts.keys import Keys
from contracts.queue import pool_queue
from tests.support.queue import queue_job

pytestmark = pytest.mark.integration


async def test_the_report_lists_the_accounts_with_most_waiting_and_counts_the_rest(
    redis: Redis,
) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:12]}:")
    few = QUEUE_REPORT_USERS + 50  # accounts with one job each, over every shard
    for n in range(few):
        await queue_job(redis, keys, "p", 0, tokens=1, owner=f"user-{n}")
    for _ in range(5):
        await queue_job(redis, keys, "p", 0, tokens=1, owner="heavy")

    report = await pool_queue(redis, keys, "p")

    assert report.interactive == few + 5 and report.batch == 0  # every account counts
    assert len(report.users) == QUEUE_REPORT_USERS
    assert report.other_users == few + 1 - QUEUE_REPORT_USERS
    assert (report.users[0].user, report.users[0].interactive) == ("heavy", 5)
    assert {user.interactive for user in report.users[1:]} == {1}
