"""Script calls batched per turn of the event loop: every call made while the loop runs one
turn goes to Redis in one pipeline, one round trip for all of them.

A worker runs many jobs at once, and each writes its events one script call at a time
(`contracts.eventlog`). Sent one by one, each call costs a socket write, a connection taken
from the pool and given back, and a wake of the loop for its answer. `ScriptBatch` sends the
calls of one turn together: a worker with 32 running jobs writes their events in a few round
trips instead of 32.

Each call keeps its own answer: a script's error is raised to its caller only, and a lost
connection to every caller of the batch (which retry as they would a call of their own). A
caller's calls stay in order, since each waits for its answer before the next. A script that
Redis does not hold (after a restart) is loaded and its call made again, as `AsyncScript`
does. A Cluster client's pipeline sends each node its calls, each script call to the node of
its keys' slot.

On one server (or a Sentinel's master) the calls go out as redis-py's pipeline sends them,
without the pipeline: one write on one connection of the client's pool, and the answers read
in order. redis-py's pipeline costs as much again per call in bookkeeping (a command stack,
its options, its reset, its metrics; docs/benchmarks.md). A call alone goes the same way,
a third cheaper than redis-py's script call; on a Cluster it goes as a script call.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._calls: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run `script` with `keys` and `args` in the pipeline of this turn of the loop."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._calls.append((script, keys, args, answer))
        if len(self._calls) == 1:  # the turn's first call: send them all once it ends
            loop.call_soon(self._send)
        return await answer

    def _send(self) -> None:
        calls, self._calls = self._calls, []
        task = asyncio.create_task(self._run(calls))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _run(self, calls: list[Call]) -> None:
        try:
            if len(calls) == 1 and not isinstance(self.redis, Redis):
                script, keys, args, answer = calls[0]
                results: list[Any] = [await run_script(script, keys, args)]
            else:
                results = await self._pipeline(calls)
        except asyncio.CancelledError:  # the loop is closing
            for *_, answer in calls:
                answer.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller gets the error
            for *_, answer in calls:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for (*_, answer), result in zip(calls, results, strict=True):
            if answer.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)

    async def _pipeline(self, calls: list[Call]) -> list[Any]:
        commands = [
            ("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args, _ in calls
        ]
        results: list[Any]
        if isinstance(self.redis, Redis):
            results = await _together(self.redis, commands)
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    # by name: a Cluster client's pipeline refuses its `evalsha` method, but
                    # sends the command itself to the node of the keys' slot
                    pipe.execute_command(*command)
                results = await pipe.execute(raise_on_error=False)
        for index, result in enumerate(results):
            if isinstance(result, NoScriptError):  # loaded again, then called alone
                script, keys, args, _ = calls[index]
                try:
                    results[index] = await run_script(script, keys, args)
                except Exception as exc:
                    results[index] = exc
        return results


async def _together(redis: Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
    """The answers of `commands` (an error answer as its exception), sent in one write on one
    connection of `redis`'s pool: what its pipeline does (with the connection's retry), less
    the pipeline's bookkeeping. A connection left with answers unread is closed, never put
    back."""
    pool = redis.connection_pool
    connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        answers: list[Any] = await connection.retry.call_with_retry(
            lambda: _exchange(connection, commands), lambda _: connection.disconnect()
        )
        return answers
    except BaseException:
        await connection.disconnect(nowait=True)
        raise
    finally:
        await pool.release(connection)


async def _exchange(connection: AbstractConnection, commands: list[tuple[Any, ...]]) -> list[Any]:
    await connection.send_packed_command(connection.pack_commands(commands))
    answers: list[Any] = []
    for _ in commands:
        try:
            answers.append(await connection.read_response())
        except ResponseError as error:
            answers.append(error)
    return answers


async def run_script(
    script: AsyncScript,
    keys: Sequence[Any],
    args: Sequence[Any],
    batch: ScriptBatch | None = None,
) -> Any:
    """`script` in `batch`'s pipeline of this turn of the loop, or on its own without one."""
    if batch is not None:
        return await batch(script, keys, args)
    return await script(keys=keys, args=args)
