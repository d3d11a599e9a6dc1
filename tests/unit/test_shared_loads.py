"""`GET /v1/models` and `/metrics` may be called by anyone with a key (`/metrics` by anyone),
any number of times at once: the pools' loads they answer read Redis at most once per
interval per edge process (edge.loads.SharedLoads)."""

import asyncio

import pytest

from edge.loads import PoolLoad, SharedLoads


def test_a_thousand_calls_at_once_read_redis_once_and_get_the_same_loads() -> None:
    reads = 0

    async def read() -> list[PoolLoad]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0)  # a read in flight while the other calls arrive
        return []

    async def main() -> None:
        shared = SharedLoads(read, min_seconds=3600)
        answers = await asyncio.gather(*(shared.current() for _ in range(1000)))
        assert reads == 1
        assert all(answer is answers[0] for answer in answers)
        assert await shared.current() is answers[0]  # a later call within the interval
        assert reads == 1
        fresh = SharedLoads(read, min_seconds=0)
        await fresh.current()
        await fresh.current()
        assert reads == 3  # with no interval, each call reads

    asyncio.run(main())


def test_a_failed_read_fails_every_call_waiting_for_it_once_and_the_next_reads_again() -> None:
    reads = 0
    redis_down = asyncio.Event()

    async def read() -> list[PoolLoad]:
        nonlocal reads
        reads += 1
        if reads == 1:
            await redis_down.wait()
            raise ConnectionError("Redis is restarting")
        return []

    async def main() -> None:
        shared = SharedLoads(read, min_seconds=3600)
        calls = [asyncio.create_task(shared.current()) for _ in range(100)]
        await asyncio.sleep(0)
        redis_down.set()
        failed = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(each, ConnectionError) for each in failed)
        assert reads == 1  # one read for all of them, not one each in turn
        assert await shared.current() == []
        assert reads == 2

    asyncio.run(main())


def test_a_caller_that_leaves_does_not_cancel_the_read_others_wait_for() -> None:
    release = asyncio.Event()

    async def read() -> list[PoolLoad]:
        await release.wait()
        return []

    async def main() -> None:
        shared = SharedLoads(read, min_seconds=3600)
        leaving = asyncio.create_task(shared.current())
        staying = asyncio.create_task(shared.current())
        await asyncio.sleep(0)
        leaving.cancel()
        release.set()
        assert await staying == []
        with pytest.raises(asyncio.CancelledError):
            await leaving

    asyncio.run(main())
