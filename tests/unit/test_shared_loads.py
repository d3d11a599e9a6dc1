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
        fresh = SharedLoads(read, min_seconds=0)
        await fresh.current()
        await fresh.current()
        assert reads == 3  # with no interval, each call reads

    asyncio.run(main())


def test_a_failed_read_is_raised_and_the_next_call_reads_again() -> None:
    reads = 0

    async def read() -> list[PoolLoad]:
        nonlocal reads
        reads += 1
        if reads == 1:
            raise ConnectionError("Redis is restarting")
        return []

    async def main() -> None:
        shared = SharedLoads(read, min_seconds=3600)
        with pytest.raises(ConnectionError, match="restarting"):
            await shared.current()
        assert await shared.current() == []
        assert reads == 2

    asyncio.run(main())
