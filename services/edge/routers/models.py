from fastapi import APIRouter

from contracts.jobs import QueueReport
from contracts.models import ModelInfo, ModelList
from contracts.queue import pool_queue
from edge.deps import CurrentUser, Operator, StateDep
from edge.errors import error_responses

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", responses=error_responses(401, 429, 503))
async def list_models(state: StateDep, _: CurrentUser) -> ModelList:
    """The pools, with how many workers sent a heartbeat lately and how many jobs wait or run
    (summed over the pool's shards), as this edge read them within the last second."""
    loads = await state.loads.current()
    return ModelList(
        data=[
            ModelInfo(
                id=load.pool.name,
                kind=load.pool.kind,
                engine=load.pool.engine,
                workers=load.workers,
                queued=load.queued,
                done=load.done,
            )
            for load in loads
        ]
    )


@router.get("/queue", responses=error_responses(401, 403, 429, 503))
async def queue(state: StateDep, _: Operator) -> QueueReport:
    """Operators: what waits in each pool, by account (every shard's queue)."""
    keys, redis = state.store.keys, state.redis
    return QueueReport(
        data=[await pool_queue(redis, keys, pool) for pool in state.store.pools.pools]
    )
