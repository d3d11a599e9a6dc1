"""The deployment's key layout, recorded in its Redis: every process must agree on S."""

from redis.asyncio import Redis

from contracts.keys import Keys


class LayoutMismatch(RuntimeError):
    """The Redis holds a deployment laid out in another number of shards."""


async def check_layout(redis: Redis, keys: Keys, setting: str) -> None:
    """Record the deployment's shard count in Redis if none is, else make sure it is ours:
    two processes that disagree on S would look for one job's keys in different places.
    `setting` names the setting to change in the refusal."""
    await redis.set(keys.layout(), str(keys.shards), nx=True)
    stored = _text(await redis.get(keys.layout()))
    if stored != str(keys.shards):
        raise LayoutMismatch(
            f"this Redis holds a deployment of {stored} shards (key {keys.layout()}), and this "
            f"process is set to {keys.shards}: set {setting}={stored} (the shard count is fixed "
            "when a deployment first uses its Redis; see docs/operations.md)"
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
