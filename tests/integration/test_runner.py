"""The worker's job runner against a real Redis: coalescing, failures, the end of a job."""

import uuid
from collections.abc import AsyncIterator

import pytest

from contracts.keys import Keys
from contracts.models import ModelLimits
from contracts.pools import ModelKind
from tests.support.runner import run_job
from worker.engines.base import Emit, JobContext, Result, Text
from worker.errors import EngineError

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


async def test_text_is_coalesced_into_fewer_deltas(redis_server_url: str, keys: Keys) -> None:
    events = await run_job(redis_server_url, ScriptedEngine(200), keys=keys, coalesce=10.0)
    deltas = [event for event in events if event["type"] == "text-delta"]
    assert len(deltas) == 1  # everything arrived within one coalescing window
    assert "".join(event["delta"] for event in deltas) == "".join(f"w{i} " for i in range(200))
    assert events[-1]["status"] == "succeeded"

    uncoalesced = await run_job(redis_server_url, ScriptedEngine(20), keys=keys)
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
    events = await run_job(redis_server_url, engine, keys=keys)
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
