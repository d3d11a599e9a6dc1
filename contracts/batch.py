"""Script calls of concurrent tasks, sent to Redis together.

A round trip costs the caller more than the work Redis does for it: a socket write, a wake-up
and a read, each a system call, and the client library's bookkeeping around them. Under load
an edge has many requests waiting on Redis at once (a rate-limit check, a submit), so
`ScriptBatch` sends the script calls made during one turn of the event loop in one pipeline:
one write and one read for all of them. A call made alone goes at the next turn, so nothing
waits for company.

Each call still runs as its own script, atomically; a pipeline (not a transaction) only
shares the trip. Each caller gets its own answer or its own error (a script's error, `OOM`,
`READONLY`...); an error of the connection fails every call of the batch, as it would have
failed each of them alone. A script Redis does not know (`NOSCRIPT`, after a restart or a
`SCRIPT FLUSH`) is loaded and its calls run again one by one. On a Redis Cluster, whose
pipelines split by node, calls go one by one, as before.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

_Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.alone = isinstance(redis, RedisCluster)
        self._pending: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """What `script(keys=keys, args=args)` answers, the trip shared with other calls."""
        if self.alone:
            return await script(keys=keys, args=args)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((script, keys, args, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            if len(batch) == 1:
                script, keys, args, future = batch[0]
                _settle(future, await script(keys=keys, args=args))
                return
            async with self.redis.pipeline(transaction=False) as pipe:
                for script, keys, args, _ in batch:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed; or cancelled, at shutdown
            for *_, future in batch:
                _settle(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (script, keys, args, future), result in zip(batch, results, strict=True):
            if isinstance(result, NoScriptError):
                try:
                    result = await script(keys=keys, args=args)  # loads it, then runs it
                except Exception as exc:
                    result = exc
            _settle(future, result)


def _settle(future: "asyncio.Future[Any]", result: Any) -> None:
    """Answer a caller, unless it stopped waiting (a timeout, a cancelled request)."""
    if future.done():
        return
    if isinstance(result, asyncio.CancelledError):
        future.cancel()
    elif isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
