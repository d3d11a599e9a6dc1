"""One job through a real `JobRunner` against a real Redis, in process: submitted by the
edge's `JobStore`, run by the runner, read back from its event log."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis

from contracts.jobs import JobEnvelope, JobRequest
from contracts.keys import Keys
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from edge.store import JobStore
from worker.engines.base import Emit, Engine, JobContext, Result, Text
from worker.runner import JobRunner

REQUEST = JobRequest(model="p", input={"messages": [{"role": "user", "content": "hi"}]})
"""A chat job of the one pool `p` of `stub_store`."""


class ScriptedEngine:
    kind = ModelKind.chat

    def __init__(self, pieces: int, failure: Exception | None = None, result: bool = True) -> None:
        self.pieces, self.failure, self.result = pieces, failure, result

    async def load(self) -> None:
        return None

    def limits(self) -> ModelLimits:
        return ModelLimits(max_context=0)

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        for index in range(self.pieces):
            yield Text(f"w{index} ")
        if self.failure:
            raise self.failure
        if self.result:
            yield Result(output={"text": "done"})


def scripted_runner(redis: Redis, keys: Keys, engine: Engine) -> JobRunner:
    """A runner as worker `w1` runs jobs, every text piece its own event."""
    return JobRunner(
        redis, keys, engine, "w1", coalesce_seconds=0, cancel_poll_seconds=0.5, retention_seconds=60
    )


def stub_store(redis: Redis, keys: Keys) -> JobStore:
    """The edge's store for one chat pool, `p`, whose engine is the test's own."""
    pool = PoolConfig(name="p", kind=ModelKind.chat, engine="stub")
    return JobStore(
        redis,
        keys,
        PoolsConfig(pools={"p": pool}),
        retention_seconds=60,
        idempotency_ttl_seconds=60,
    )


async def run_job(
    url: str,
    engine: Engine,
    *,
    keys: Keys | None = None,
    coalesce: float = 0.0,
    max_seconds: float = 600,
    max_output_bytes: int = 1 << 20,
) -> list[dict[str, Any]]:
    """The events of one chat job run by `engine`, as a client gets them: the `job-end` in the
    log has no output (it is stored once, in the record) and gets the record's, as the edge
    adds it. The log must expire once the job ended."""
    keys = keys or Keys(f"u{uuid.uuid4().hex[:10]}:")
    redis = Redis.from_url(url, decode_responses=True)
    try:
        job_id, _ = await stub_store(redis, keys).submit("alice", REQUEST)
        runner = JobRunner(
            redis,
            keys,
            engine,
            "w1",
            coalesce_seconds=coalesce,
            cancel_poll_seconds=0.5,
            retention_seconds=60,
            max_seconds=max_seconds,
            max_output_bytes=max_output_bytes,
        )
        envelope = JobEnvelope(id=job_id, owner="alice", model="p", input=REQUEST.input)
        await asyncio.wait_for(runner.run(envelope), 60)
        entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.events(job_id)))
        assert await redis.ttl(keys.events(job_id)) > 0, "an ended log expires"
        events = [json.loads(fields["e"]) for _, fields in entries]
        end = events[-1]
        assert end["type"] == "job-end" and "output" not in end, "output stored once"
        output = await redis.hget(keys.job(job_id), "output")
        end["output"] = json.loads(output) if output else None
        return events
    finally:
        await redis.aclose()
