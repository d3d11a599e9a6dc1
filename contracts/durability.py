"""Waiting for replicas at the event log's commit points (`WAIT`)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

logger = logging.getLogger("relayline.eventlog")


@dataclass(frozen=True, slots=True)
class Durability:
    """Replication is asynchronous: a failover may lose what a master had not passed on. At
    the commit points (a submit, before its 202; a `job-end`, before its acknowledgement)
    the writer `WAIT`s for `replicas` replicas, at most `timeout_ms`; fewer in time is logged,
    not refused (the write stands on the master). 0 replicas: no wait."""

    replicas: int = 0
    timeout_ms: int = 100


NO_WAIT = Durability()

WaitReplicas = Annotated[int, Field(ge=0, le=16)]
"""The range of the services' `*_REDIS_WAIT_REPLICAS`."""
WaitTimeoutMs = Annotated[int, Field(ge=1, le=4000)]
"""The range of `*_REDIS_WAIT_TIMEOUT_MS`: below redis-py's read timeout of 5 s, or a WAIT
that runs its course would fail as a lost connection."""


async def committed(
    redis: Redis,
    durability: Durability,
    what: str,
    script: AsyncScript,
    *,
    keys: Sequence[str],
    args: list[Any],
) -> Any:
    """Run `script`, then `WAIT` for the replicas on the same connection (WAIT counts the
    writes of the connection it is sent on); `what` names the write in the warning."""
    wanted = durability.replicas
    if not wanted:
        return await script(keys=keys, args=args)
    timeout = durability.timeout_ms
    async with redis.pipeline(transaction=False) as pipe:
        if isinstance(redis, RedisCluster):
            # A cluster pipeline sends each node's commands on one connection: the WAIT
            # goes to the node of the script's slot (by default it would go to every
            # master). EVAL, as a node may not have the script cached yet.
            pipe.eval(script.script, len(keys), *keys, *args)
            node = redis.get_node_from_key(keys[0])
            pipe.execute_command("WAIT", wanted, timeout, target_nodes=node)
        else:
            await script(keys=keys, args=args, client=pipe)
            pipe.execute_command("WAIT", wanted, timeout)
        result, acked = await pipe.execute()
    if int(acked) < wanted:
        logger.warning(
            "%s reached %d of %d replicas within %d ms: a failover now could lose it",
            what,
            int(acked),
            wanted,
            timeout,
        )
    return result
