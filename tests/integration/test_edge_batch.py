"""The edge's script calls share their trips to Redis (`contracts.batch.ScriptBatch`, tested
on its own in test_script_batch.py): concurrent rate checks and submits go in one pipeline."""

import asyncio
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from contracts.batch import ScriptBatch
from contracts.jobs import JobRequest
from contracts.keys import Keys
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from edge.ratelimit import RateLimiter
from edge.store import JobStore
from edge.tiers import DEFAULT_TIER

pytestmark = pytest.mark.integration

# KEYS[1] a counter; ARGV[1] how much to add, or 'fail' for a script error.
ADD = """
if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


def _count_trips(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the number of commands of every trip the client's connections send as one
    write (`pack_commands`: a pipeline's, a batch's, a batch of one call's too; a command
    sent on its own, through `execute_command`, is not counted)."""
    sizes: list[int] = []
    connection_class = redis.connection_pool.connection_class
    pack = connection_class.pack_commands

    def counted(self: Any, commands: Any) -> Any:
        sizes.append(len(commands))
        return pack(self, commands)

    monkeypatch.setattr(connection_class, "pack_commands", counted)
    return sizes


async def test_the_edges_rate_checks_and_submits_share_a_trip(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:12]}:")
    batch = ScriptBatch(redis)
    limiter = RateLimiter(redis, keys, batch)
    pools = PoolsConfig(pools={"chat": PoolConfig(name="chat", kind=ModelKind.chat, engine="x")})
    store = JobStore(
        redis, keys, pools, retention_seconds=60, idempotency_ttl_seconds=60, batch=batch
    )
    request = JobRequest(model="chat", input={"messages": [{"role": "user", "content": "hi"}]})
    await store.submit("alice", request)  # scripts loaded, the pool's limits read
    await limiter.request("alice", DEFAULT_TIER)
    sizes = _count_trips(redis, monkeypatch)
    decisions = await asyncio.gather(*(limiter.request(f"u{i}", DEFAULT_TIER) for i in range(5)))
    submits = asyncio.gather(*(store.submit("alice", request) for _ in range(5)))
    checks = asyncio.gather(*(limiter.request("alice", DEFAULT_TIER) for _ in range(5)))
    submitted, checked = await asyncio.gather(submits, checks)
    assert all(decision and decision.allowed for decision in [*decisions, *checked])
    assert len({job_id for job_id, created in submitted if created}) == 5
    assert sizes == [5, 10]  # five checks in one trip; then five submits and five checks
