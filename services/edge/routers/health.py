import contextlib

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from edge.deps import StateDep
from edge.errors import error_response, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=error_responses(503))
async def readyz(state: StateDep) -> dict[str, str] | Response:
    """Readiness: Redis answers."""
    try:
        await state.redis.ping()
    except Exception as exc:
        return error_response(
            503, "redis_unavailable", f"Redis is not reachable: {exc}", **{"Retry-After": "1"}
        )
    return {"status": "ready"}


@router.get("/metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    """Prometheus metrics; the pools' gauges (`edge.loads`) are read at most once a second. A Redis
    that does not answer leaves them at their last values."""
    with contextlib.suppress(RedisError, OSError):
        await state.loads.current()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
