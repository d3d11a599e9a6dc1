"""`relayline dead list|show|replay|drop --pool P [--id ID]`: a pool's dead-lettered jobs.

Reads the same settings as a worker (`REDIS_URL`, `RELAYLINE_PREFIX`, `RELAYLINE_SHARDS`,
`RELAYLINE_POOLS`, or their `WORKER_` forms). `--id` is a job id or a dead-letter entry id.
`replay` queues the job again as a new attempt of the same job (`contracts.deadletter`): done
twice, it queues it once. Exit status: 0 done (or nothing left to do), 1 refused or not found,
2 a bad pool or command.
"""

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import cast

from redis.asyncio import Redis

from contracts.connect import connect
from contracts.deadletter import DeadJob, DeadLetters, NotFound, Replayed
from contracts.keys import Keys
from contracts.pools import PoolConfig, load_pools
from worker.settings import Settings


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    pool = load_pools(settings.pools_file).get(args.pool)
    if pool is None:
        print(f"relayline dead: no pool {args.pool!r} in {settings.pools_file}", file=sys.stderr)
        return 2
    if args.action != "list" and not args.id:
        print(f"relayline dead {args.action}: give --id (a job id)", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings, pool))


async def _run(args: argparse.Namespace, settings: Settings, pool: PoolConfig) -> int:
    redis = cast(Redis, connect(settings.redis_url, max_connections=4))
    try:
        letters = DeadLetters(redis, Keys(settings.key_prefix, settings.shards), pool.name)
        if args.action == "list":
            for job in await letters.list():
                print(json.dumps(_described(job)) if args.json else _line(job))
            return 0
        try:
            job = await letters.find(args.id)
        except NotFound as exc:
            if args.action == "replay" and await letters.was_replayed(args.id):
                print(f"{args.id}: nothing to replay: it was replayed already")
                return 0
            print(f"relayline dead {args.action}: {exc}", file=sys.stderr)
            return 1
        if args.action == "show":
            print(json.dumps({**_described(job), "envelope": json.loads(job.envelope)}, indent=2))
            return 0
        if args.action == "drop":
            dropped = await letters.drop(job)
            print(f"{job.job_id}: " + ("dropped" if dropped else "gone already"))
            return 0
        return _replayed(job, await letters.replay(job, pool.max_output_bytes))
    finally:
        await redis.aclose()


def _replayed(job: DeadJob, answer: Replayed) -> int:
    messages = {
        Replayed.queued: "queued again; its next attempt begins with a job-reset",
        Replayed.gone: "nothing to replay: it was replayed or dropped meanwhile",
        Replayed.expired: "cannot replay: its record expired (event retention)",
        Replayed.not_failed: "cannot replay: the job had ended otherwise",
    }
    print(f"{job.job_id}: {messages[answer]}")
    return 0 if answer in (Replayed.queued, Replayed.gone) else 1


def _described(job: DeadJob) -> dict[str, object]:
    owner, model = job.owner_and_model()
    return {
        "entry_id": job.entry_id,
        "dead_at": datetime.fromtimestamp(job.dead_at, UTC).isoformat(timespec="seconds"),
        "job_id": job.job_id,
        "owner": owner,
        "model": model,
        "deliveries": job.deliveries,
        "reason": job.reason,
    }


def _line(job: DeadJob) -> str:
    described = _described(job)
    fields = ("dead_at", "job_id", "owner", "deliveries", "reason")
    return "  ".join(str(described[name]) for name in fields)
