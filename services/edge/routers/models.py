import time

from fastapi import APIRouter

from contracts.keys import GROUP
from contracts.models import ModelInfo, ModelList
from edge.deps import CurrentUser, StateDep
from edge.errors import error_responses

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", responses=error_responses(401, 429, 503))
async def list_models(state: StateDep, _: CurrentUser) -> ModelList:
    """The pools, with how many workers sent a heartbeat lately and how many jobs wait (summed
    over the pool's shard streams)."""
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
        answers = await pipe.execute(raise_on_error=False)
    data, per_pool = [], 1 + 2 * keys.shards
    for index, pool in enumerate(pools):
        workers, *per_shard = answers[per_pool * index : per_pool * (index + 1)]
        data.append(
            ModelInfo(
                id=pool.name,
                kind=pool.kind,
                engine=pool.engine,
                workers=workers if isinstance(workers, int) else 0,
                queued=sum(_queued(groups) for groups in per_shard[::2]),
                done=sum(_done(stats) for stats in per_shard[1::2]),
            )
        )
    return ModelList(data=data)


def _done(stats: object) -> int:
    return sum(int(count) for count in stats) if isinstance(stats, list) else 0


def _queued(groups: object) -> int:
    """Jobs not yet taken by a worker (`lag`, Redis 7+) plus jobs being run (`pending`)."""
    if not isinstance(groups, list):
        return 0
    for group in groups:
        if group.get("name") == GROUP:
            lag = group.get("lag")
            return int(group.get("pending", 0)) + (int(lag) if lag is not None else 0)
    return 0
