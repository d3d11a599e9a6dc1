"""A user's budget of stored output: what `SUBMIT` is told and how its refusal is answered.

The bucket itself lives in Redis (`Keys.user_stored`, see `contracts.log`): the scripts that
admit and end jobs charge it, so every edge and worker counts alike. All guests of one client
address share one bucket (`contracts.keys.account`).
"""

from contracts.errors import ErrorCode
from edge.errors import TooManyRequests
from edge.tiers import holder


def drain_rate(budget: int, retention_seconds: int) -> float:
    """Bytes per second the bucket drains: the whole budget over one record retention."""
    return budget / retention_seconds


def storage_refusal(seconds: int, budget: int, user: str) -> TooManyRequests:
    """`429 storage_quota`, with `Retry-After`: the seconds until the bucket drains below
    the budget."""
    return TooManyRequests(
        ErrorCode.storage_quota,
        f"the job output {holder(user)} keep stored fills the budget of {budget} bytes; it "
        f"frees as the jobs' records expire: retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
