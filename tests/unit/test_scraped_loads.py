"""`/metrics` may be called by anyone, any number of times at once: the pool gauges it
refreshes read Redis at most once per interval (edge.loads.ScrapedLoads)."""

import asyncio

from edge.loads import PoolLoad, ScrapedLoads


def test_a_thousand_scrapes_at_once_read_redis_once() -> None:
    reads = 0

    async def read() -> list[PoolLoad]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0)  # a read in flight while the other scrapes arrive
        return []

    async def main() -> None:
        scraped = ScrapedLoads(min_seconds=3600)
        await asyncio.gather(*(scraped.refresh(read) for _ in range(1000)))
        assert reads == 1
        fresh = ScrapedLoads(min_seconds=0)
        await fresh.refresh(read)
        await fresh.refresh(read)
        assert reads == 3  # with no interval, each scrape reads

    asyncio.run(main())
