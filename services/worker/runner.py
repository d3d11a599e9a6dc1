"""Runs one job: start it, drive its engine, write every event, end it exactly once.

Text from the engine is coalesced into one `text-delta` per `coalesce_ms`; while a window
runs, the engine's text does not wake the runner (`Items`), so a streaming job costs a wake
per window, not per token. Every append answers whether a cancel was requested; a job whose
engine is silent checks every `cancel_poll_seconds`. On cancel the engine's task is
cancelled, which closes its iterator and stops the model, and the job ends `cancelled`.

Whatever the engine does, the job ends: an engine that raises ends it `failed` (its
`EngineError` code, else `engine_error`); one that runs past the pool's `max_seconds` is
stopped as a cancel stops it and the job ends `failed` with `timeout`; one whose output passes
the pool's `max_output_bytes` is stopped and the job ends `failed` with `output_too_large`
(engines that can, stop before the cap on their own: a chat answer ends with
`finish_reason: "length"`).

The `job-end`'s append charges the job's owner its usage, once per job (`contracts.usage`):
the tokens the edge checks quotas against.

A log that lost events this worker wrote (Redis failed over to a replica that had not
received them) is never written past: the attempt starts again, and its `job-reset` takes a
seq above any a client may have seen (see `contracts.log`).
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence

from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from contracts.batch import ScriptBatch
from contracts.durability import NO_WAIT, Durability
from contracts.eventlog import RESTART_REASON, EventLog, JobRef, Started
from contracts.events import JobEnd
from contracts.jobs import JobEnvelope, JobStatus
from contracts.keys import Keys
from contracts.log import AppendResult
from contracts.pools import DEFAULT_LIMITS, ModelKind
from contracts.telemetry import context_of, past_span, span
from contracts.usage import DEFAULT_QUOTA_WINDOW_SECONDS
from worker.attempt import END, Attempt, Event, job_end, timed_out
from worker.engines.base import Engine, JobContext, Text
from worker.errors import JobLost, LogRegressed
from worker.metrics import PoolMetrics
from worker.retry import with_retry

log = logging.getLogger("relayline.worker")

STOP_GRACE_SECONDS = 5.0
MAX_LOG_RESTARTS = 3
"""Attempts one worker starts for a job whose log keeps losing its end (failovers)."""


QUEUE_SIZE = 256
"""Items of the engine a job queues before its engine waits for the runner."""


class Items:
    """The engine's items on their way to the runner, queued by the engine's task (`_pump`).

    While a coalescing window runs (`quiet`), text is queued without waking the runner: the
    window's close takes all of it at once, so a streaming job wakes its runner about once
    per window instead of once per token. Anything else (progress, the result, the end, an
    error), text outside a window and a full queue wake it at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.queue: deque[object] = deque()
        self.quiet = False
        self._waiter: asyncio.Future[bool] | None = None
        self._room = asyncio.Event()

    async def put(self, item: object) -> None:
        while len(self.queue) >= self.size:
            self._wake()  # a full queue is taken now, window or not
            self._room.clear()
            await self._room.wait()
        self.queue.append(item)
        if not (self.quiet and isinstance(item, Text)):
            self._wake()

    def get(self) -> object:
        item = self.queue.popleft()
        self._room.set()
        return item

    async def wait(self, seconds: float) -> bool:
        """Whether an item that wakes the runner came within `seconds`. Called only
        with the queue empty: an item queued before the call would not wake it. One future
        and one timer: a runner waits once per coalescing window, and `asyncio.timeout`
        around an `Event` cost it twice as much."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _settle, waiter, False)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None:
            _settle(self._waiter, True)


def _settle(waiter: "asyncio.Future[bool]", woken: bool) -> None:
    if not waiter.done():
        waiter.set_result(woken)


class _Log:
    """Appends events of one attempt of one job; refused writes raise `JobLost`."""

    def __init__(
        self,
        runner: "JobRunner",
        envelope: JobEnvelope,
        started: Started,
        entry_id: str | None,
    ) -> None:
        self.runner = runner
        self.job = JobRef(envelope.id, envelope.model, envelope.owner)
        self.attempt = started.attempt
        self.floor = started.seq  # the highest seq Redis gave this worker for the job
        self.entry_id = entry_id  # the job's queue entry, acknowledged with the job-end
        self.cancel_requested = False
        self.step = started.steps  # START wrote the attempt's job-reset and job-start

    async def append(self, event: Event, before: Sequence[Event] = ()) -> None:
        """Write one event (after those `before` it, in the same step). A lost answer (Redis
        restarting, a dropped connection) is retried for `append_retry_seconds`: the step
        number makes the retry safe."""
        self.step += 1
        step = self.step
        entry_id = self.entry_id if isinstance(event, JobEnd) else None
        answer = await with_retry(
            lambda: self.runner.log.append(
                self.job,
                attempt=self.attempt,
                step=step,
                floor=self.floor,
                event=event,
                entry_id=entry_id,
                before=before,
            ),
            self.runner.append_retry_seconds,
        )
        if answer.result == AppendResult.regressed:
            raise LogRegressed(self.floor)
        if answer.result not in (AppendResult.ok, AppendResult.duplicate):
            raise JobLost(answer.result.name, fenced=answer.result == AppendResult.fenced)
        self.floor = max(self.floor, answer.seq)
        self.cancel_requested = self.cancel_requested or answer.cancel_requested
        if self.runner.metrics and answer.result == AppendResult.ok:
            self.runner.metrics.wrote(1 + len(before))

    async def poll_cancel(self) -> bool:
        requested = await self.runner.log.cancel_requested(self.job.id)
        self.cancel_requested = self.cancel_requested or requested
        return self.cancel_requested


class JobRunner:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        engine: Engine,
        worker_id: str,
        *,
        coalesce_seconds: float,
        cancel_poll_seconds: float,
        retention_seconds: int,
        append_retry_seconds: float = 30.0,
        max_seconds: float = DEFAULT_LIMITS[ModelKind.chat].max_seconds,
        max_output_bytes: int = DEFAULT_LIMITS[ModelKind.chat].max_output_bytes,
        durability: Durability = NO_WAIT,
        quota_window_seconds: int = DEFAULT_QUOTA_WINDOW_SECONDS,
        batch: ScriptBatch | None = None,
        metrics: PoolMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.worker_id = worker_id
        self.coalesce_seconds = coalesce_seconds
        self.cancel_poll_seconds = cancel_poll_seconds
        self.append_retry_seconds = append_retry_seconds
        self.max_seconds = max_seconds
        self.max_output_bytes = max_output_bytes
        self.log = EventLog(
            redis,
            keys,
            retention_seconds,
            durability,
            quota_window_seconds,
            batch or ScriptBatch(redis),  # the job's writes share the loop's pipelines
        )

    async def run(
        self, envelope: JobEnvelope, entry_id: str | None = None, started: Started | None = None
    ) -> bool:
        """Run the job to its end. Given the id of its entry in the job stream, the `job-end`
        acknowledges it; True when it did (False: the job was not run, e.g. it had ended).
        `started`: the attempt its take already began (`PoolQueues.take`), else it begins
        one."""
        floor, reason = 0, RESTART_REASON
        for _ in range(MAX_LOG_RESTARTS):
            try:
                return await self._attempt(envelope, floor, reason, entry_id, started)
            except LogRegressed as exc:
                started = None
                log.warning("job %s: %s; starting it again", envelope.id, exc)
                floor, reason = exc.floor, "Redis lost the end of the job's log (a failover)"
        # Left unacknowledged: the reaper runs it again, and dead-letters it in the end.
        raise JobLost(f"its log regressed {MAX_LOG_RESTARTS} times", fenced=True)

    async def _attempt(
        self,
        envelope: JobEnvelope,
        floor: int,
        reason: str,
        entry_id: str | None,
        started: Started | None,
    ) -> bool:
        """One attempt, traced as `relayline.attempt` in the trace its submit began
        (contracts.telemetry)."""
        parent = context_of(envelope.trace) if envelope.trace else None
        attributes = {"relayline.job_id": envelope.id, "relayline.model": envelope.model}
        with span(
            "relayline.attempt", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        ) as attempt:
            with span("relayline.start") as start:
                start.set_attribute("relayline.begun_by", "start" if started is None else "take")
                if started is None:
                    started = await self.log.start(
                        envelope.id,
                        worker=self.worker_id,
                        now=time.time(),
                        floor=floor,
                        reason=reason,
                    )
            attempt.set_attribute("relayline.attempt", started.attempt)
            if started.result != AppendResult.ok:
                log.info("job %s not run: %s", envelope.id, started.result.name)
                return False
            return await self._run_attempt(envelope, started, entry_id)

    async def _run_attempt(
        self, envelope: JobEnvelope, started: Started, entry_id: str | None
    ) -> bool:
        now = time.time()
        first = started.attempt == 1 and started.created_at > 0
        if first:  # the job's wait in its queue, as a span of its own
            past_span("relayline.queue_wait", started.created_at, max(now, started.created_at))
        if self.metrics:
            self.metrics.started(now - started.created_at if first else None)
            self.metrics.wrote(started.steps)
        events = _Log(self, envelope, started, entry_id)
        context = JobContext(envelope.id, envelope.input, envelope.params, started.attempt)
        began = time.monotonic()
        with span("relayline.engine"):
            end, text = await self._drive(context, events)
        with span("relayline.end", attributes={"relayline.status": end.status.value}):
            await events.append(end, before=text)
        if self.metrics:
            self.metrics.ended(end, time.monotonic() - began)
        return entry_id is not None

    async def _drive(self, context: JobContext, events: _Log) -> tuple[JobEnd, list[str]]:
        """Run the engine to the job's end: the end, and the text to write with it."""
        items = Items(QUEUE_SIZE)
        pump = asyncio.create_task(self._pump(context, items))
        attempt = Attempt(
            events,
            context,
            coalesce_seconds=self.coalesce_seconds,
            cancel_poll_seconds=self.cancel_poll_seconds,
            max_output_bytes=self.max_output_bytes,
        )
        deadline = asyncio.get_running_loop().time() + self.max_seconds
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return timed_out(context.id, self.max_seconds), attempt.deltas.drain()
                if items.queue:  # the engine is ahead: no timer to set
                    if (end := await attempt.take(items.get())) is not None:
                        return end, attempt.deltas.drain()
                    continue
                window = attempt.deltas.due_in()  # > 0: a coalescing window runs
                items.quiet = window > 0  # its text waits for it without waking this loop
                if await items.wait(min(window or attempt.wait(), remaining)):
                    continue
                items.quiet = False
                if window:  # it closed: the text that came meanwhile is written at once
                    while items.queue and isinstance(items.queue[0], Text):
                        if (end := await attempt.take(items.get(), flush=False)) is not None:
                            return end, attempt.deltas.drain()
                    if attempt.deltas.buffer:
                        await attempt.deltas.flush()
                elif attempt.deltas.buffer:
                    await attempt.deltas.flush()
                elif await events.poll_cancel():
                    return job_end(context.id, JobStatus.cancelled), []
        finally:
            await self._stop(pump, context.id)

    async def _stop(self, pump: "asyncio.Task[None]", job_id: str) -> None:
        """Cancel the engine's task, which closes its iterator: the engine stops its model.
        An engine that ignores the cancel is left behind after `STOP_GRACE_SECONDS`: the job
        still ends and its slot is freed."""
        if pump.done():
            return
        pump.cancel()
        done, _ = await asyncio.wait({pump}, timeout=STOP_GRACE_SECONDS)
        if not done:
            log.error("the engine of job %s ignored its cancel; left behind", job_id)

    async def _pump(self, context: JobContext, items: "Items") -> None:
        try:
            async for item in self.engine.stream(context):
                await items.put(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await items.put(exc)
            return
        await items.put(END)
