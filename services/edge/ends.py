"""A job's output is stored once, in its record; the `job-end` in its event log has none.

The edge puts the output back into `job-end` as it delivers it: one `HGET` per job per edge
process, shared by every client watching the job live or catching up at the same time (the
read in flight is shared, and recent completed ends are kept, within a byte budget).

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
        self._reading: dict[str, asyncio.Task[str]] = {}
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
        task = self._reading.get(data)
        if task is None:
            task = self._reading[data] = asyncio.create_task(self._read(job_id, data))
            task.add_done_callback(lambda _: self._reading.pop(data, None))
        # shielded: one client leaving must not cancel the read others wait for
        return await asyncio.shield(task)

    async def _read(self, job_id: str, data: str) -> str:
        key = self.keys.job(job_id)
        output = cast(str | None, await self._retrying(lambda: self.redis.hget(key, "output")))
        complete = with_output(data, output)
        self._keep(data, complete)
        return complete

    def _keep(self, end: str, complete: str) -> None:
        if len(complete) > CACHE_CHARS // 4:
            return
        self._done[end] = complete
        self._chars += len(end) + len(complete)
        while self._chars > CACHE_CHARS:
            dropped_end, dropped = self._done.popitem(last=False)
            self._chars -= len(dropped_end) + len(dropped)
