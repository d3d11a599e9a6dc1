"""The worker's job runner against a real Redis: coalescing, failures, the end of a job."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from contracts.jobs import JobEnvelope, JobRequest
from contracts.keys import Keys
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from edge.store import JobStore
from worker.engines.base import Emit, JobContext, Result, Text
from worker.errors import EngineError
from worker.runner import JobRunner

pytestmark = pytest.mark.integration


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


@pytest.fixture
def keys() -> Keys:
    return Keys(f"u{uuid.uuid4().hex[:10]}:")


async def run_job(
    url: str, keys: Keys, engine: ScriptedEngine, coalesce: float
) -> list[dict[str, Any]]:
    redis = Redis.from_url(url, decode_responses=True)
    try:
        pool = PoolConfig(name="p", kind=ModelKind.chat, engine="scripted")
        store = JobStore(
            redis,
            keys,
            PoolsConfig(pools={"p": pool}),
            retention_seconds=60,
            idempotency_ttl_seconds=60,
        )
        request = JobRequest(model="p", input={"messages": [{"role": "user", "content": "hi"}]})
        job_id, _ = await store.submit("alice", request)
        runner = JobRunner(
            redis,
            keys,
            engine,
            "w1",
            coalesce_seconds=coalesce,
            cancel_poll_seconds=0.5,
            retention_seconds=60,
        )
        await runner.run(JobEnvelope(id=job_id, owner="alice", model="p", input=request.input))
        entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.events(job_id)))
        assert await redis.ttl(keys.events(job_id)) > 0, "an ended log expires"
        return [json.loads(fields["e"]) for _, fields in entries]
    finally:
        await redis.aclose()


async def test_text_is_coalesced_into_fewer_deltas(redis_server_url: str, keys: Keys) -> None:
    events = await run_job(redis_server_url, keys, ScriptedEngine(200), coalesce=10.0)
    deltas = [event for event in events if event["type"] == "text-delta"]
    assert len(deltas) == 1  # everything arrived within one coalescing window
    assert "".join(event["delta"] for event in deltas) == "".join(f"w{i} " for i in range(200))
    assert events[-1]["status"] == "succeeded"

    uncoalesced = await run_job(redis_server_url, keys, ScriptedEngine(20), coalesce=0.0)
    assert sum(event["type"] == "text-delta" for event in uncoalesced) == 20


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (ScriptedEngine(3, failure=EngineError("input too strange")), "input too strange"),
        (ScriptedEngine(3, failure=RuntimeError("boom")), "the model failed: RuntimeError: boom"),
        (ScriptedEngine(3, result=False), "the engine ended without a result"),
    ],
)
async def test_engine_failures_end_the_job_failed_with_a_code(
    redis_server_url: str, keys: Keys, engine: ScriptedEngine, message: str
) -> None:
    events = await run_job(redis_server_url, keys, engine, coalesce=0.0)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    end = events[-1]
    assert end["type"] == "job-end"
    assert end["status"] == "failed"
    assert end["error"] == {"code": "engine_error", "message": message}
    # The text produced before the failure was delivered, in order.
    assert [event["delta"] for event in events if event["type"] == "text-delta"] == [
        "w0 ",
        "w1 ",
        "w2 ",
    ]
