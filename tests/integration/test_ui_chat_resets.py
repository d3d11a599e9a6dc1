"""A resume of a chat's answer starts after the log's last `job-reset` (`uichats.last_reset`),
read backwards through a real Redis stream, page by page."""

import json
import uuid

import pytest
from redis.asyncio import Redis

from contracts.keys import Keys, event_entry_id
from contracts.log import EVENT_FIELD
from edge.uichats import last_reset

pytestmark = pytest.mark.integration


async def test_the_last_reset_is_found_past_a_page(redis: Redis) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:12]}:")
    job_id = keys.new_job_id("alice")
    assert await last_reset(redis, keys, job_id) == 0  # no log at all
    resets = {300, 450}
    for seq in range(1, 1001):
        kind = "job-reset" if seq in resets else "text-delta"
        event = {"type": kind, "seq": seq, "delta": "job-reset"}  # the word alone is no reset
        await redis.xadd(keys.events(job_id), {EVENT_FIELD: json.dumps(event)}, event_entry_id(seq))
    assert await last_reset(redis, keys, job_id) == 450
    other = keys.new_job_id("alice")
    await redis.xadd(keys.events(other), {EVENT_FIELD: json.dumps({"type": "job-queued"})}, "0-1")
    assert await last_reset(redis, keys, other) == 0
    await redis.delete(keys.events(job_id), keys.events(other))
