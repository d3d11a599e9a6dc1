"""The worker's job runner against a real Redis: coalescing, failures, the end of a job."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from redis.asyncio import Redis

from contracts.jobs import JobEnvelope
from contracts.keys import GROUP, Keys
from edge.store import JobStore
from tests.support.queue import take_as
from tests.support.runner import REQUEST, ScriptedEngine, run_job, scripted_runner, stub_store
from tests.support.wait import async_wait_for
from worker.engines.base import Emit, JobContext, Text
from worker.errors import EngineError
from worker.runner import JobRunner

pytestmark = pytest.mark.integration


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


class FailoverEngine(ScriptedEngine):
    """Its first attempt stops after three pieces as Redis loses the log's last two events
    (a failover to a replica that had not received them); the second attempt runs to the end.
    """

    def __init__(self, url: str, keys: Keys) -> None:
        super().__init__(5)
        self.url, self.keys = url, keys
        self.seq_before_failover = 0

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        async for index, item in _numbered(super().stream(job)):
            if job.attempt == 1 and index == 3:
                await self._lose_the_tail(job.id)
            yield item

    async def _lose_the_tail(self, job_id: str) -> None:
        redis = Redis.from_url(self.url, decode_responses=True)
        try:
            # job-queued, job-start and three deltas: wait until all five were written
            await async_wait_for(
                lambda: _seq(redis, self.keys, job_id, 5), what="three deltas in the log"
            )
            self.seq_before_failover = 5
            await redis.hset(self.keys.job(job_id), "seq", 3)
            await redis.xdel(self.keys.events(job_id), "0-4", "0-5")
            # the log's last id back to 0-3, as on a replica that never got 0-4 and 0-5
            await redis.eval(SET_ID, 1, self.keys.events(job_id), "0-3")
        finally:
            await redis.aclose()


SET_ID = "return redis.call('XSETID', KEYS[1], ARGV[1])"


async def _seq(redis: Redis, keys: Keys, job_id: str, wanted: int) -> bool:
    return int(await redis.hget(keys.job(job_id), "seq") or 0) >= wanted


async def _numbered(items: AsyncIterator[Emit]) -> AsyncIterator[tuple[int, Emit]]:
    index = 0
    async for item in items:
        yield index, item
        index += 1


async def test_a_log_that_lost_its_tail_is_never_written_past_the_attempt_starts_again(
    redis_server_url: str, keys: Keys
) -> None:
    engine = FailoverEngine(redis_server_url, keys)
    events = await run_job(redis_server_url, engine, keys=keys)
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(set(seqs))
    resets = [event for event in events if event["type"] == "job-reset"]
    assert len(resets) == 1, "the failover went unnoticed"
    reset = resets[0]
    # Every client saw at most seq 5 before the failover: the reset comes after all of them,
    # so none drops it (or anything after it) as a duplicate.
    assert reset["seq"] > engine.seq_before_failover == 5
    assert reset["attempt"] == 2
    after = [event for event in events if event["seq"] > reset["seq"]]
    assert after[0]["type"] == "job-start"
    assert "".join(event["delta"] for event in after if event["type"] == "text-delta") == (
        "w0 w1 w2 w3 w4 "
    )
    assert events[-1]["status"] == "succeeded"


async def test_the_job_end_acknowledges_the_jobs_queue_entry_in_one_step(
    redis_server_url: str, keys: Keys
) -> None:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    try:
        store = stub_store(redis, keys)
        await store.ensure_groups()
        job_id, _ = await store.submit("alice", REQUEST)
        stream = keys.jobs("p", keys.shard_of_job(job_id))
        entry_id = await take_as(redis, keys, "p", keys.shard_of_job(job_id), "w1")
        runner = scripted_runner(redis, keys, ScriptedEngine(3))
        envelope = JobEnvelope(id=job_id, owner="alice", model="p", input=REQUEST.input)
        assert await runner.run(envelope, entry_id) is True
        assert (await redis.xpending(stream, GROUP))["pending"] == 0  # nobody else acked
        assert await redis.hget(keys.job(job_id), "status") == "succeeded"
        # run again (a redelivery): the job had ended, so it is not run and nothing says
        # its entry was acknowledged: the worker acknowledges it itself
        assert await runner.run(envelope, entry_id) is False
    finally:
        await redis.aclose()


class PausingEngine(ScriptedEngine):
    """One piece of text, then silence until `resume` is set: from then on it runs as a
    scripted engine of two pieces, or, if `resume` is never set, until its task is cancelled."""

    def __init__(self) -> None:
        super().__init__(2)
        self.resume = asyncio.Event()
        self.closed = False

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        try:
            yield Text("first ")
            await self.resume.wait()
            async for item in super().stream(job):
                yield item
        finally:
            self.closed = True


async def _deltas(redis: Redis, keys: Keys, job_id: str) -> list[str]:
    entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.events(job_id)))
    events = [json.loads(fields["e"]) for _, fields in entries]
    return [event["delta"] for event in events if event["type"] == "text-delta"]


async def running_job(
    redis: Redis, keys: Keys, engine: PausingEngine, coalesce_seconds: float
) -> tuple[JobStore, str, "asyncio.Task[bool]"]:
    """Alice's job, run in a task by a runner coalescing text for `coalesce_seconds`."""
    store = stub_store(redis, keys)
    job_id, _ = await store.submit("alice", REQUEST)
    runner = JobRunner(
        redis, keys, engine, "w1", coalesce_seconds=coalesce_seconds, cancel_poll_seconds=0.2,
        retention_seconds=60,
    )  # fmt: skip
    envelope = JobEnvelope(id=job_id, owner="alice", model="p", input=REQUEST.input)
    return store, job_id, asyncio.create_task(runner.run(envelope))


async def paused_job(
    redis: Redis, keys: Keys, coalesce_seconds: float = 0.05
) -> tuple[JobStore, str, PausingEngine, "asyncio.Task[bool]"]:
    """A job run in a task by a runner coalescing text for `coalesce_seconds`, once its
    engine gave its first text and fell silent, and that text is in the log."""
    engine = PausingEngine()
    store, job_id, running = await running_job(redis, keys, engine, coalesce_seconds)

    async def first_written() -> bool:
        return await _deltas(redis, keys, job_id) == ["first "]

    await async_wait_for(first_written, what="the text before the engine's silence in the log")
    return store, job_id, engine, running


async def test_the_first_text_is_written_when_the_engine_pauses_not_when_its_window_closes(
    redis_server_url: str, keys: Keys
) -> None:
    """Coalescing spares events while a model streams; it must not delay the first token."""
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    running: asyncio.Task[bool] | None = None
    try:
        # the first text is in the log long before its 600 s window closes
        _, job_id, engine, running = await paused_job(redis, keys, coalesce_seconds=600)
        engine.resume.set()
        await asyncio.wait_for(running, 30)
        # the rest came at once, well within its window: written with the job's end
        assert await _deltas(redis, keys, job_id) == ["first ", "w0 w1 "]
    finally:
        if running is not None:
            running.cancel()
        await redis.aclose()


class StaggeredEngine(PausingEngine):
    """One piece of text; once `more` is set, two more at once; then silence until `resume`
    is set."""

    def __init__(self) -> None:
        super().__init__()
        self.more = asyncio.Event()

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        yield Text("a ")
        await self.more.wait()
        yield Text("b ")
        yield Text("c ")
        await self.resume.wait()
        async for item in ScriptedEngine.stream(self, job):
            yield item


async def test_text_that_comes_during_a_window_is_written_in_one_delta_when_it_closes(
    redis_server_url: str, keys: Keys
) -> None:
    """Text that comes while a window runs waits for it, without waking the runner; the
    window's close writes it, in one delta, while the engine is silent."""
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    engine = StaggeredEngine()
    _, job_id, running = await running_job(redis, keys, engine, coalesce_seconds=2)
    try:

        async def deltas(count: int) -> list[str] | None:
            written = await _deltas(redis, keys, job_id)
            return written if len(written) >= count else None

        # the first piece at once (the engine paused after it); its window starts then
        assert await async_wait_for(lambda: deltas(1), what="the first text") == ["a "]
        engine.more.set()  # two pieces, well within the window
        assert await async_wait_for(lambda: deltas(2), what="the window's text") == ["a ", "b c "]
        engine.resume.set()
        await asyncio.wait_for(running, 30)
        assert await _deltas(redis, keys, job_id) == ["a ", "b c ", "w0 w1 "]
    finally:
        running.cancel()
        await redis.aclose()


async def test_text_is_written_when_its_window_closes_while_the_engine_is_silent(
    redis_server_url: str, keys: Keys
) -> None:
    """No later item comes to flush it: the runner's wait for one ends with the window."""
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    try:
        _, job_id, engine, running = await paused_job(redis, keys)
        engine.resume.set()
        await asyncio.wait_for(running, 30)
        assert "".join(await _deltas(redis, keys, job_id)) == "first w0 w1 "
        assert await redis.hget(keys.job(job_id), "status") == "succeeded"
    finally:
        await redis.aclose()


async def test_a_silent_engine_is_stopped_by_a_cancel_it_never_hears_of(
    redis_server_url: str, keys: Keys
) -> None:
    """No append answers the cancel while the engine is silent: the runner polls for it."""
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    try:
        store, job_id, engine, running = await paused_job(redis, keys)
        await store.cancel("alice", job_id)
        await asyncio.wait_for(running, 30)
        assert await redis.hget(keys.job(job_id), "status") == "cancelled"
        assert engine.closed  # its model stopped
    finally:
        await redis.aclose()
