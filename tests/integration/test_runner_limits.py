"""The runner's pool limits against a real Redis: `max_seconds` ends a job `timeout` and stops
its engine; output past `max_output_bytes` ends it `output_too_large`, or, for an engine that
stops at the cap itself, `succeeded` with `finish_reason: "length"`."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig
from tests.support.runner import run_job
from tests.support.wait import async_wait_for
from worker.engines.base import Emit, JobContext, Result, Text
from worker.engines.simulated import SimulatedEngine

pytestmark = pytest.mark.integration


class StubbornEngine:
    """An engine that never ends on its own: silent, or yielding text without a pause."""

    kind = ModelKind.chat

    def __init__(self, chatty: bool = False, piece: str = "w ", result: Any = None) -> None:
        self.chatty, self.piece, self.result = chatty, piece, result
        self.started = asyncio.Event()
        self.closed = False

    async def load(self) -> None:
        return None

    def limits(self) -> ModelLimits:
        return ModelLimits(max_context=0)

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        self.started.set()
        try:
            if self.result is not None:
                yield Result(output=self.result)
                return
            while True:
                if self.chatty:
                    yield Text(self.piece)
                await asyncio.sleep(0 if self.chatty else 3600)
        finally:
            self.closed = True  # the runner closed the iterator: the model stops here


@pytest.mark.parametrize("chatty", [False, True], ids=["silent", "chatty"])
async def test_a_job_past_max_seconds_ends_timeout_and_its_engine_is_stopped(
    redis_server_url: str, chatty: bool
) -> None:
    engine = StubbornEngine(chatty=chatty)
    events = await run_job(redis_server_url, engine, max_seconds=0.5)
    end = events[-1]
    assert end["type"] == "job-end" and end["status"] == "failed"
    assert end["error"]["code"] == "timeout"
    assert engine.started.is_set() and engine.closed
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))


async def test_text_past_the_output_cap_ends_the_job_and_stops_the_engine(
    redis_server_url: str,
) -> None:
    engine = StubbornEngine(chatty=True, piece="é" * 100)  # 200 bytes a piece
    events = await run_job(redis_server_url, engine, max_output_bytes=4096)
    end = events[-1]
    assert end["status"] == "failed" and end["error"]["code"] == "output_too_large"
    assert engine.closed
    text = "".join(event["delta"] for event in events if event["type"] == "text-delta")
    assert len(text.encode()) <= 4096


async def test_a_result_past_the_output_cap_ends_the_job_without_storing_it(
    redis_server_url: str,
) -> None:
    engine = StubbornEngine(result={"embeddings": [[0.123456789] * 1000]})
    events = await run_job(redis_server_url, engine, max_output_bytes=4096)
    end = events[-1]
    assert end["status"] == "failed" and end["error"]["code"] == "output_too_large"
    assert end["output"] is None


async def test_a_result_that_cannot_be_stored_ends_the_job_failed(redis_server_url: str) -> None:
    events = await run_job(redis_server_url, StubbornEngine(result={"text": object()}))
    end = events[-1]
    assert end["status"] == "failed" and end["error"]["code"] == "engine_error"


async def test_an_engine_that_stops_at_the_cap_ends_with_finish_reason_length(
    redis_server_url: str,
) -> None:
    pool = PoolConfig(
        name="p",
        kind=ModelKind.chat,
        engine="simulated",
        max_output_bytes=1024,
        options={"token_rate": 0, "latency": 0, "default_tokens": 10000},
    )
    events = await run_job(redis_server_url, SimulatedEngine(pool), max_output_bytes=1024)
    end = events[-1]
    assert end["status"] == "succeeded"
    assert end["output"]["finish_reason"] == "length"
    assert len(json.dumps(end["output"])) <= 1024
    text = "".join(event["delta"] for event in events if event["type"] == "text-delta")
    assert text == end["output"]["text"] and len(text) > 900


class DeafEngine(StubbornEngine):
    """Ignores its cancel for a while, as a careless engine might."""

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(1)  # the cancel is swallowed: the runner must not wait for it
        self.closed = True
        yield Result(output={"text": "too late"})


async def test_an_engine_that_ignores_its_cancel_is_left_behind_and_the_job_ends(
    redis_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("worker.runner.STOP_GRACE_SECONDS", 0.1)
    engine = DeafEngine()
    events = await run_job(redis_server_url, engine, max_seconds=0.3)
    assert events[-1]["status"] == "failed" and events[-1]["error"]["code"] == "timeout"
    assert not engine.closed  # the job ended before the engine gave up
    await async_wait_for(lambda: asyncio.sleep(0, engine.closed), what="the engine to end")
