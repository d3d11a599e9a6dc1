"""Memory per retained job: what an ended job keeps in Redis until its record and its event
log expire (the log may expire sooner: EDGE_EVENT_LOG_RETENTION_SECONDS). Measured with
`MEMORY USAGE` (every element sampled) on the most recent jobs of the bench user."""

import asyncio
from typing import cast

import redis

from tests.bench.stats import BenchFailure, Row
from tests.support.stack import Stack

SAMPLE = 200


def _measure(stack: Stack, user: str) -> list[Row]:
    client = stack.redis()
    try:
        keys = stack.keys
        job_ids = cast(list[str], client.zrevrange(keys.user_jobs(user), 0, SAMPLE - 1))
        if not job_ids:
            raise BenchFailure("no retained jobs to measure")
        records, logs, outputs, events = 0, 0, 0, 0
        for job_id in job_ids:
            records += client.memory_usage(keys.job(job_id), samples=0) or 0
            logs += client.memory_usage(keys.events(job_id), samples=0) or 0
            outputs += len(cast(str, client.hget(keys.job(job_id), "output") or ""))
            events += client.xlen(keys.events(job_id))
    except redis.RedisError as exc:
        raise BenchFailure(f"could not measure retained jobs: {exc}") from exc
    finally:
        client.close()
    count = len(job_ids)
    scenario = f"4. retained jobs: the last {count} ended jobs ({events / count:.0f} events each)"
    return [
        (scenario, "Redis memory per job: record", f"{records / count / 1024:.1f} KiB"),
        (scenario, "Redis memory per job: event log", f"{logs / count / 1024:.1f} KiB"),
        (scenario, "Redis memory per job: total", f"{(records + logs) / count / 1024:.1f} KiB"),
        (
            scenario,
            "output per job (stored once, in the record)",
            f"{outputs / count / 1024:.1f} KiB",
        ),
    ]


async def retained(stack: Stack, user: str = "alice") -> list[Row]:
    return await asyncio.to_thread(_measure, stack, user)
