"""A user's budget of stored output: what `SUBMIT` is told and how its refusal is answered.

The bucket itself lives in Redis (`Keys.user_stored`, see `contracts.log`): the scripts that
admit and end jobs charge it, so every edge and worker counts alike.
"""

from contracts import log
from contracts.errors import ErrorCode
from edge.errors import TooManyRequests


def drain_rate(budget: int, retention_seconds: int) -> str:
    """Bytes per second the bucket drains: the whole budget over one record retention."""
    return repr(budget / retention_seconds)


def refused(result: object) -> bool:
    return isinstance(result, str) and result.startswith(log.SUBMIT_STORAGE_QUOTA)


def storage_refusal(result: str, budget: int) -> TooManyRequests:
    """`429 storage_quota`, with `Retry-After`: the seconds until the bucket drains below
    the budget."""
    seconds = result.removeprefix(log.SUBMIT_STORAGE_QUOTA)
    return TooManyRequests(
        ErrorCode.storage_quota,
        f"your stored job output fills your budget of {budget} bytes; it frees as your "
        f"jobs' records expire: retry in {seconds} s",
        headers={"Retry-After": seconds},
    )
