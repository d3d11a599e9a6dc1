"""What the fan-out keeps per watched job (`Watch`) and per shard (`Shard`: its reader's
state), and the wake that interrupts a shard reader's blocking `XREAD` when a log joins it
(edge.reader reads, edge.fanout subscribes).

A shard's reader blocks on its watched logs *and* on this edge's wake stream of the shard
(`Keys.wake(shard, edge_id)`), read from the last wake entry the reader saw. A log joining
the read XADDs one entry to it: whether the reader is already blocked or its `XREAD` is
still on its way to Redis, that entry is newer than the position it reads from, so the read
returns at once and is rebuilt with the new log. No `CLIENT UNBLOCK`, so no connection id:
it works through any proxy, on a Cluster node, on managed services and on Dragonfly.

The wake stream holds one entry (`MAXLEN 1`) and expires `WAKE_TTL_SECONDS` after the last
wake, so an edge that dies leaves nothing behind for long. A wake that cannot be written (Redis
is away) is dropped: the reader rebuilds its read after every outage and every `block_ms`
anyway, so a lost wake only delays a new log's live events, never loses them.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.keys import Keys
from edge.outbox import Outbox

log = logging.getLogger("relayline.fanout")

WAKE_TTL_SECONDS = 60
WAKE_FIELD = "w"
OUTAGE_LOG_SECONDS = 5.0
"""While Redis is away, the readers log at most one line per this many seconds, together."""

ReaderFor = Callable[[str], Awaitable[Redis]]
"""The client a shard's blocking reads go to, given a key of the shard: on one server (or a
Sentinel-watched master) one client whose pool all shards share, on a Cluster a client of
the node that owns the key's slot. It is asked again after every error of the shard's reader
(a lost connection, MOVED, CLUSTERDOWN...), once the hub's own client (which follows MOVED
and refreshes a Cluster's slot map) has checked the shard's jobs, so it can follow a slot
that moved. The client
must decode responses and have no socket timeout shorter than the hub's `block_ms`; the hub
neither opens nor closes it."""


def one_client(client: Redis) -> ReaderFor:
    """Every shard's reads on `client` (one server, or a Sentinel-watched master): give its
    pool room for one connection per shard, so every reading shard blocks at once."""

    async def reader_for(key: str) -> Redis:
        return client

    return reader_for


@dataclass(eq=False)
class Watch:
    """One job followed by its shard's reader for this edge's subscribers."""

    outboxes: set[Outbox] = field(default_factory=set)
    position: int | None = None  # None: not (or no longer) read live
    started: "asyncio.Task[None] | None" = None


@dataclass(eq=False)
class Shard:
    """One shard's reader: running (`task`) while any of its watches is read live."""

    live: dict[str, Watch] = field(default_factory=dict)
    """The shard's watches read live, by job id; a watch the hub dropped is removed when the
    reader next builds its read."""
    task: "asyncio.Task[None] | None" = None
    version: int = 0  # raised by every watch that joins `live`
    read_version: int = 0  # the version the reader's current XREAD was built from
    wake_id: str = "0-0"  # the last wake entry the reader saw: it reads the wakes after it
    wake_pending: bool = False  # a wake task is scheduled and has not sent its XADD yet


async def send_wake(redis: Redis, keys: Keys, number: int, shard: Shard, edge_id: str) -> None:
    """Interrupt the shard's blocking read if it was built before the latest watch joined.
    Every change made before this XADD is sent is covered by it; a later one sends its own."""
    shard.wake_pending = False
    if shard.task is None or shard.read_version >= shard.version:
        return  # no reader, or its read (running or next) already has every live watch
    key = keys.wake(number, edge_id)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {WAKE_FIELD: ""}, maxlen=1, approximate=False)
            pipe.expire(key, WAKE_TTL_SECONDS)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.info("could not wake the fan-out reader of shard %d (%s)", number, exc)


class Outage:
    """Logs the readers' lost Redis once for all shards, then at most every 5 s, and the
    reconnection when the last failing shard reads again."""

    def __init__(self) -> None:
        self._failing: set[int] = set()
        self._logged = -math.inf

    def failed(self, number: int, exc: BaseException) -> None:
        now = time.monotonic()
        if not self._failing or now - self._logged >= OUTAGE_LOG_SECONDS:
            log.warning("fan-out reader lost Redis (%s); retrying", exc)
            self._logged = now
        self._failing.add(number)

    def recovered(self, number: int, failures: int) -> None:
        self._failing.discard(number)
        if not self._failing:
            log.warning("fan-out reader reconnected after %d failures", failures)

    def discard(self, number: int) -> None:
        """The shard's reader ended (no watches left): it no longer counts as failing."""
        self._failing.discard(number)
