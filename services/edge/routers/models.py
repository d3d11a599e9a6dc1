import time

from fastapi import APIRouter

from contracts.jobs import Priority, QueueReport
from contracts.keys import GROUP
from contracts.models import ModelInfo, ModelList
from contracts.queue import pool_queue
from edge.deps import CurrentUser, Operator, StateDep
from edge.errors import error_responses

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", responses=error_responses(401, 429, 503))
async def list_models(state: StateDep, _: CurrentUser) -> ModelList:
    """The pools, with how many workers sent a heartbeat lately and how many jobs wait or run
    (summed over the pool's shards)."""
    keys, redis = state.store.keys, state.redis
    live_since = time.time() - state.settings.worker_live_seconds
    pools = list(state.store.pools.pools.values())
    shards = range(keys.shards)
    async with redis.pipeline(transaction=False) as pipe:
        for pool in pools:
            pipe.zcount(keys.workers(pool.name), live_since, "+inf")
            for shard in shards:
                pipe.xinfo_groups(keys.jobs(pool.name, shard))
                pipe.hvals(keys.pool_stats(pool.name, shard))
                for priority in Priority:
                    pipe.zcard(keys.waiting(pool.name, shard, priority))
        answers = await pipe.execute(raise_on_error=False)
    data, per_shard_answers = [], 2 + len(Priority)
    per_pool = 1 + per_shard_answers * keys.shards
    for index, pool in enumerate(pools):
        workers, *per_shard = answers[per_pool * index : per_pool * (index + 1)]
        streams, stats = per_shard[::per_shard_answers], per_shard[1::per_shard_answers]
        waiting = [n for k in range(2, per_shard_answers) for n in per_shard[k::per_shard_answers]]
        data.append(
            ModelInfo(
                id=pool.name,
                kind=pool.kind,
                engine=pool.engine,
                workers=workers if isinstance(workers, int) else 0,
                queued=sum(map(_queued, streams)) + sum(_count(n) for n in waiting),
                done=sum(map(_done, stats)),
            )
        )
    return ModelList(data=data)


@router.get("/queue", responses=error_responses(401, 403, 429, 503))
async def queue(state: StateDep, _: Operator) -> QueueReport:
    """Operators: what waits in each pool, by account (every shard's queue)."""
    keys, redis = state.store.keys, state.redis
    return QueueReport(
        data=[await pool_queue(redis, keys, pool) for pool in state.store.pools.pools]
    )


def _count(answer: object) -> int:
    return answer if isinstance(answer, int) else 0


def _done(stats: object) -> int:
    return sum(int(count) for count in stats) if isinstance(stats, list) else 0


def _queued(groups: object) -> int:
    """Jobs in a job stream not yet read by a worker (`lag`, Redis 7+) plus jobs being run
    (`pending`)."""
    if not isinstance(groups, list):
        return 0
    for group in groups:
        if group.get("name") == GROUP:
            lag = group.get("lag")
            return int(group.get("pending", 0)) + (int(lag) if lag is not None else 0)
    return 0
