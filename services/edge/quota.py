"""A user's budget of stored output: what `SUBMIT` is told and how its refusal is answered.

The bucket itself lives in Redis (`Keys.user_stored`, see `contracts.log`): the scripts that
admit and end jobs charge it, so every edge and worker counts alike.
"""

from contracts.errors import ErrorCode
from edge.errors import TooManyRequests


def drain_rate(budget: int, retention_seconds: int) -> float:
    """Bytes per second the bucket drains: the whole budget over one record retention."""
    return budget / retention_seconds


def storage_refusal(seconds: int, budget: int) -> TooManyRequests:
    """`429 storage_quota`, with `Retry-After`: the seconds until the bucket drains below
    the budget."""
    return TooManyRequests(
        ErrorCode.storage_quota,
        f"your stored job output fills your budget of {budget} bytes; it frees as your "
        f"jobs' records expire: retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
