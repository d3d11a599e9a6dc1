"""Helpers of the fan-out hub's in-process tests (tests/integration/test_hub*.py): jobs in
chosen shards, events written as a worker writes them, what a subscriber received."""

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

from contracts.keys import Keys
from edge.fanout import Hub
from edge.outbox import Outbox
from tests.support.wait import async_wait_for

SHARDS = 8
WATCHED = (0, 3, 5)


def job_in(shard: int) -> str:
    return f"{shard:04x}{secrets.token_hex(14)}"


async def append(redis: Any, keys: Keys, job_id: str, seq: int, kind: str = "text-delta") -> None:
    await redis.hset(keys.job(job_id), mapping={"status": "running", "seq": seq})
    event = {"seq": seq, "job_id": job_id, "ts": 0, "type": kind}
    data = json.dumps(event, separators=(",", ":"))  # as a worker writes it
    await redis.xadd(keys.events(job_id), {"e": data}, id=f"0-{seq}")


def outbox() -> Outbox:
    return Outbox(10_000, 1 << 24, on_overflow=lambda: None)


async def received(box: Outbox, count: int, timeout: float = 10) -> list[int]:
    """The seqs of the next `count` items; a `job-end` must come with its output."""
    seqs: list[int] = []
    async with asyncio.timeout(timeout):
        while len(seqs) < count:
            _, seq, data = await box.get()
            assert '"type":"job-end"' not in data or data.endswith(',"output":null}')
            seqs.append(seq)
    return seqs


async def blocked_readers(redis: Any, name: str) -> int:
    """Connections of this test's readers blocked in a command (CLIENT LIST flag `b`)."""
    clients = await redis.client_list()
    return sum(1 for client in clients if client["name"] == name and "b" in client["flags"])


async def unblocks(redis: Any) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_client|unblock", {}).get("calls", 0))


async def stream_exactly(hub: Hub, redis: Any, jobs: list[str], blocked: Callable[[], Any]) -> None:
    """Every job streams seqs 1..40 then its job-end, exactly, while one reader per watched
    shard reads; when they end, no reader is left."""
    boxes = {job_id: outbox() for job_id in jobs}
    for job_id in jobs:
        await append(redis, hub.keys, job_id, 1)
        hub.subscribe(boxes[job_id], job_id, 0)
    shards = {hub.keys.shard_of_job(job_id) for job_id in jobs}
    await async_wait_for(
        lambda: asyncio.sleep(0, hub.reading_shards == shards), 10, "a reader per shard"
    )
    await async_wait_for(blocked, 10, "the shards' readers to block")
    for seq in range(2, 41):
        for job_id in jobs:
            await append(redis, hub.keys, job_id, seq)
    for job_id in jobs:
        await append(redis, hub.keys, job_id, 41, "job-end")
    for job_id, box in boxes.items():
        assert await received(box, 41) == list(range(1, 42)), job_id
    await async_wait_for(
        lambda: asyncio.sleep(0, not hub.reading_shards), 10, "the readers to end with their jobs"
    )
