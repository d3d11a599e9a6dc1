"""Runs one job: start it, drive its engine, write every event, end it exactly once.

Text from the engine is coalesced into one `text-delta` per `coalesce_ms`. Every append
answers whether a cancel was requested; a job whose engine is silent checks every
`cancel_poll_seconds`. On cancel the engine's task is cancelled, which closes its iterator
and stops the model, and the job ends `cancelled`.
"""

import asyncio
import logging
import time
from typing import Any

from pydantic_core import to_json
from redis.asyncio import Redis

from contracts import log as event_log
from contracts.errors import ErrorCode, ErrorDetail
from contracts.events import JobEnd, JobReset, JobStart, TextDelta, Usage
from contracts.events import Progress as ProgressEvent
from contracts.jobs import JobEnvelope, JobStatus
from contracts.keys import Keys
from worker.engines.base import Emit, Engine, JobContext, Progress, Result, Text
from worker.errors import EngineError, JobLost
from worker.retry import with_retry

log = logging.getLogger("relayline.worker")

_Event = JobStart | JobReset | TextDelta | ProgressEvent | JobEnd
_END = object()


class _Log:
    """Appends events of one attempt of one job; refused writes raise `JobLost`."""

    def __init__(self, runner: "JobRunner", envelope: JobEnvelope, attempt: int) -> None:
        self.runner = runner
        self.job_id = envelope.id
        self.attempt = attempt
        self.keys = runner.keys.end_keys(envelope.id, envelope.model, envelope.owner)
        self.cancel_requested = False
        self.step = 0

    async def append(self, event: _Event) -> None:
        """Write one event. A lost answer (Redis restarting, a dropped connection) is retried
        for `append_retry_seconds`: the step number makes the retry safe."""
        extra: list[Any] = ["", "", "", "null", "null", "null"]
        if isinstance(event, JobEnd):
            extra = [
                event.status.value,
                repr(event.ts),
                self.runner.retention_seconds,
                to_json(event.output).decode(),
                event.usage.model_dump_json() if event.usage else "null",
                event.error.model_dump_json() if event.error else "null",
            ]
        payload = event_log.without_seq(event)
        self.step += 1
        args = [self.attempt, payload, *extra, self.step]
        result, _, cancel = await with_retry(
            lambda: self.runner.append_script(keys=self.keys, args=args),
            self.runner.append_retry_seconds,
        )
        if result not in (event_log.AppendResult.ok, event_log.AppendResult.duplicate):
            raise JobLost(
                event_log.AppendResult(result).name, fenced=result == event_log.AppendResult.fenced
            )
        self.cancel_requested = self.cancel_requested or bool(cancel)

    async def poll_cancel(self) -> bool:
        flag = await self.runner.redis.hget(self.keys[0], "cancel")
        self.cancel_requested = self.cancel_requested or bool(flag)
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
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.engine = engine
        self.worker_id = worker_id
        self.coalesce_seconds = coalesce_seconds
        self.cancel_poll_seconds = cancel_poll_seconds
        self.retention_seconds = retention_seconds
        self.append_retry_seconds = append_retry_seconds
        self.start_script = redis.register_script(event_log.START)
        self.append_script = redis.register_script(event_log.APPEND)

    async def run(self, envelope: JobEnvelope) -> None:
        job_id = envelope.id
        result, attempt = await self.start_script(
            keys=[self.keys.job(job_id), self.keys.events(job_id)],
            args=[self.worker_id, repr(time.time())],
        )
        if result != event_log.AppendResult.ok:
            log.info("job %s not run: %s", job_id, event_log.AppendResult(result).name)
            return
        events = _Log(self, envelope, attempt)
        if attempt > 1:
            await events.append(
                JobReset(
                    job_id=job_id,
                    seq=1,
                    ts=time.time(),
                    attempt=attempt,
                    reason="the previous attempt did not finish",
                )
            )
        await events.append(
            JobStart(job_id=job_id, seq=1, ts=time.time(), attempt=attempt, worker=self.worker_id)
        )
        context = JobContext(job_id, envelope.input, envelope.params, attempt)
        end = await self._drive(context, events)
        await events.append(end)

    async def _drive(self, context: JobContext, events: _Log) -> JobEnd:
        queue: asyncio.Queue[Emit | BaseException | object] = asyncio.Queue(maxsize=256)
        pump = asyncio.create_task(self._pump(context, queue))
        buffer: list[str] = []
        loop = asyncio.get_running_loop()
        flushed_at = loop.time()
        result: Result | None = None

        async def flush() -> None:
            nonlocal flushed_at
            if buffer:
                delta = "".join(buffer)
                buffer.clear()
                await events.append(
                    TextDelta(job_id=context.id, seq=1, ts=time.time(), delta=delta)
                )
            flushed_at = loop.time()

        try:
            while True:
                if buffer:
                    timeout = max(0.0, self.coalesce_seconds - (loop.time() - flushed_at))
                else:
                    timeout = self.cancel_poll_seconds
                try:
                    async with asyncio.timeout(timeout):  # no task per item, unlike wait_for
                        item = await queue.get()
                except TimeoutError:
                    if buffer:
                        await flush()
                    elif await events.poll_cancel():
                        return self._end(context, JobStatus.cancelled)
                    continue
                if item is _END:
                    await flush()
                    break
                if isinstance(item, BaseException):
                    await flush()
                    return self._failed(context, item)
                if isinstance(item, Text):
                    buffer.append(item.text)
                    if loop.time() - flushed_at >= self.coalesce_seconds:
                        await flush()
                elif isinstance(item, Progress):
                    await flush()
                    await events.append(
                        ProgressEvent(
                            job_id=context.id,
                            seq=1,
                            ts=time.time(),
                            done=item.done,
                            total=item.total,
                        )
                    )
                elif isinstance(item, Result):
                    result = item
                if events.cancel_requested:
                    return self._end(context, JobStatus.cancelled)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        if result is None:
            return self._failed(context, EngineError("the engine ended without a result"))
        return self._end(context, JobStatus.succeeded, result.output, result.usage)

    async def _pump(self, context: JobContext, queue: "asyncio.Queue[Any]") -> None:
        try:
            async for item in self.engine.stream(context):
                await queue.put(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await queue.put(exc)
            return
        await queue.put(_END)

    def _end(
        self,
        context: JobContext,
        status: JobStatus,
        output: Any = None,
        usage: Usage | None = None,
        error: ErrorDetail | None = None,
    ) -> JobEnd:
        return JobEnd(
            job_id=context.id,
            seq=1,
            ts=time.time(),
            status=status,
            output=output,
            usage=usage,
            error=error,
        )

    def _failed(self, context: JobContext, exc: BaseException) -> JobEnd:
        code: str = ErrorCode.engine_error
        if isinstance(exc, EngineError):
            message, code = str(exc), exc.code
        else:
            log.error("engine failed on job %s", context.id, exc_info=exc)
            message = f"the model failed: {type(exc).__name__}: {exc}"[:500]
        error = ErrorDetail(code=code, message=message)
        return self._end(context, JobStatus.failed, error=error)
