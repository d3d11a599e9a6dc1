"""A job's output is stored once, in its record; the `job-end` in its event log has none.

The edge puts the output back into `job-end` as it delivers it: one `HGET` per job per edge
process, shared by every client watching the job live or catching up at the same time (the
read in flight is shared, and recent completed ends are kept, within a byte budget). The
outputs asked for during one turn of the event loop are read in one pipeline: jobs that end
together (a burst of jobs submitted together) cost one round trip and one connection, not
one each.

A `job-end` that already has an `output` (written before this rule) is delivered as it is.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import cast

from redis.asyncio import Redis

from contracts.keys import Keys

OUTPUT_KEY = '"output":'
CACHE_CHARS = 8 << 20
"""Completed `job-end`s kept for late catch-ups, in characters of JSON."""

Retrying = Callable[[Callable[[], Awaitable[object]]], Awaitable[object]]


def has_output(data: str) -> bool:
    """Whether a `job-end`'s JSON holds its output. A key can only appear unescaped at the
    top level: a string holding `"output":` would have its quotes escaped."""
    return OUTPUT_KEY in data


def with_output(data: str, output: str | None) -> str:
    """The `job-end` JSON with the record's output (raw JSON) appended as its last field."""
    return f"{data[:-1]},{OUTPUT_KEY}{output or 'null'}}}"


class EndCache:
    def __init__(self, redis: Redis, keys: Keys, retrying: Retrying) -> None:
        self.redis = redis
        self.keys = keys
        self._retrying = retrying
        self._reading: dict[str, asyncio.Future[str]] = {}
        self._asked: list[tuple[str, str, asyncio.Future[str]]] = []
        """This turn's reads: (job id, `job-end`, its completion)."""
        self._readers: set[asyncio.Task[None]] = set()
        self._done: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    async def complete(self, job_id: str, data: str) -> str:
        """`data` (a `job-end`) with its output. Kept by the `job-end` itself, not by its job:
        a job replayed from the dead-letter stream ends again, with another output."""
        if has_output(data):
            return data
        done = self._done.get(data)
        if done is not None:
            self._done.move_to_end(data)
            return done
        completion = self._reading.get(data)
        if completion is None:
            completion = self._reading[data] = asyncio.get_running_loop().create_future()
            if not self._asked:  # the turn's first: its reader starts once the turn ends
                reader = asyncio.create_task(self._read())
                self._readers.add(reader)
                reader.add_done_callback(self._readers.discard)
            self._asked.append((job_id, data, completion))
        # shielded: one client leaving must not cancel the read others wait for
        return await asyncio.shield(completion)

    async def _read(self) -> None:
        asked, self._asked = self._asked, []
        keys = [self.keys.job(job_id) for job_id, _, _ in asked]
        try:
            outputs = cast(list[object], await self._retrying(lambda: self._outputs(keys)))
        except BaseException as exc:  # refused (a `ResponseError`), or the edge stopping
            for _, data, completion in asked:
                self._settle(data, completion, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, data, completion), output in zip(asked, outputs, strict=True):
            if isinstance(output, Exception):  # this job's record alone was refused
                self._settle(data, completion, output)
                continue
            complete = with_output(data, cast(str | None, output))
            self._keep(data, complete)
            self._settle(data, completion, complete)

    async def _outputs(self, keys: list[str]) -> list[object]:
        if len(keys) == 1:
            return [await self.redis.hget(keys[0], "output")]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, "output")
            return cast(list[object], await pipe.execute(raise_on_error=False))

    def _settle(self, data: str, completion: "asyncio.Future[str]", result: object) -> None:
        if self._reading.get(data) is completion:
            del self._reading[data]
        if completion.done():
            return
        if isinstance(result, str):
            completion.set_result(result)
        elif isinstance(result, asyncio.CancelledError):
            completion.cancel()
        else:
            completion.set_exception(cast(BaseException, result))

    def _keep(self, end: str, complete: str) -> None:
        if len(complete) > CACHE_CHARS // 4:
            return
        self._done[end] = complete
        self._chars += len(end) + len(complete)
        while self._chars > CACHE_CHARS:
            dropped_end, dropped = self._done.popitem(last=False)
            self._chars -= len(dropped_end) + len(dropped)
