"""One Redis URL, one asyncio client, whatever the deployment behind it (see `redis_url`).

- `redis://`, `rediss://`, `unix://`: a `Redis` on a `BlockingConnectionPool`, as the edge
  and the worker have always built it: when all `max_connections` are busy, a command waits up
  to `pool_timeout` seconds for one instead of failing.
- `redis+sentinel://`: a `Redis` on the master the Sentinels name, on a blocking pool too;
  after a failover its connections follow the new master.
- `redis+cluster://`: a `RedisCluster` seeded with every listed node, reading from masters.
  `max_connections` is per node, and a node with all of them busy fails the command at once
  (`MaxConnectionsError`, a `ConnectionError`): redis-py's cluster client does not wait.

The client is not connected yet; the first command connects. Close it with `aclose()`.
"""

import asyncio
import contextlib
import time
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError, RedisClusterException, RedisError

from contracts.redis_url import Deployment, RedisTarget, parse_redis_url

# How long a Sentinel may take to answer "who is the master?" before the next one is asked.
SENTINEL_TIMEOUT_SECONDS = 5.0


def connect(
    url: str,
    *,
    max_connections: int,
    decode_responses: bool = True,
    pool_timeout: float | None = 10,
    health_check_interval: float = 0,
) -> Redis | RedisCluster:
    """A client for `url`; ValueError when the URL is malformed (the message names the
    expected form and never repeats a password)."""
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    target = parse_redis_url(url)
    options: dict[str, Any] = {
        "decode_responses": decode_responses,
        "max_connections": max_connections,
        "health_check_interval": health_check_interval,
    }
    if target.deployment is Deployment.CLUSTER:
        return _cluster(target, options)
    options["timeout"] = pool_timeout  # the blocking pool's wait for a free connection
    if target.deployment is Deployment.SENTINEL:
        return _sentinel_master(target, options)
    return Redis.from_pool(BlockingConnectionPool.from_url(url, **options))


def _cluster(target: RedisTarget, options: dict[str, Any]) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        username=target.username,
        password=target.password,
        ssl=target.ssl,
        # No load_balancing_strategy: every command, reads too, goes to the slot's master.
        require_full_coverage=True,
        **options,
    )


def _sentinel_master(target: RedisTarget, options: dict[str, Any]) -> Redis:
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(target.hosts),
        sentinel_kwargs={
            "socket_timeout": SENTINEL_TIMEOUT_SECONDS,
            "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
        },
    )
    client: Redis = sentinels.master_for(
        target.service_name,
        redis_class=Redis,
        connection_pool_class=BlockingSentinelPool,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return client


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's master discovery with the blocking pool's wait for a free connection (the
    MRO puts `BlockingConnectionPool` between the Sentinel pool and the plain one). Closing
    it also closes the connections to the Sentinels, which nothing else owns."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:  # a full close, not the idle sweep after a master change
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.aclose()


def service_url(url: str) -> str:
    """`url` if it is a well-formed Redis URL of any deployment; ValueError (naming the
    expected form) otherwise. Settings validate `REDIS_URL` with it, so a bad one stops the
    service at start."""
    parse_redis_url(url)
    return url


class BlockingReaders:
    """Clients for blocking reads (`XREAD BLOCK`), each holding a connection while it waits,
    by a key of what they read: `readers(key)`.

    - One server, or a Sentinel-watched master: one client whose pool of `connections` every
      key shares (a read waits for a free connection rather than failing).
    - A Cluster: a plain client of the master that owns the key's slot, one per node, so a
      blocking read goes straight there (the cluster client's generic path would look the
      node up and route each read). The slot map is the cluster client's; asking again for
      a key (a reader does after an error: a dead node, `MOVED` after a failover or a
      resharding) refreshes it, at most once a second, so the next ask finds the new owner.

    A key whose slot is not known yet is a `ConnectionError`, like a node that is away."""

    REFRESH_SECONDS = 1.0

    def __init__(self, url: str, *, connections: int) -> None:
        target = parse_redis_url(url)
        self._target = target
        self._shared: Redis | None = None
        self._cluster: RedisCluster | None = None
        self._nodes: dict[str, Redis] = {}
        self._asked: set[str] = set()
        self._refreshing: asyncio.Task[None] | None = None
        self._refreshed_at = 0.0
        self._initialized = False
        if target.deployment is Deployment.CLUSTER:
            self._cluster = _cluster(
                target, {"decode_responses": True, "max_connections": 2, "health_check_interval": 0}
            )
        else:
            self._shared = cast(Redis, connect(url, max_connections=connections, pool_timeout=None))

    def __call__(self, key: str) -> Redis:
        if self._shared is not None:
            return self._shared
        assert self._cluster is not None
        if key in self._asked:
            self._refresh()
        self._asked.add(key)
        try:
            node = self._cluster.get_node_from_key(key)
        except (RedisClusterException, RedisError) as exc:
            self._refresh()
            raise ConnectionError(f"the Cluster's slot map is not known yet ({exc})") from exc
        if node is None:
            self._refresh()
            raise ConnectionError(f"no node serves the slot of {key!r} yet")
        client = self._nodes.get(node.name)
        if client is None:
            client = self._nodes[node.name] = Redis(
                host=node.host,
                port=int(node.port),
                username=self._target.username,
                password=self._target.password,
                ssl=self._target.ssl,
                decode_responses=True,
            )
        return client

    def _refresh(self) -> None:
        """Reread the slot map in the background (the first ask of all also initializes it)."""
        assert self._cluster is not None
        now = time.monotonic()
        busy = self._refreshing is not None and not self._refreshing.done()
        if busy or now - self._refreshed_at < self.REFRESH_SECONDS:
            return
        self._refreshed_at = now
        self._refreshing = asyncio.get_running_loop().create_task(self._reinitialize())

    async def _reinitialize(self) -> None:
        assert self._cluster is not None
        with contextlib.suppress(RedisError, RedisClusterException, OSError):
            if not self._initialized:  # the client's own first start (its close needs it)
                await self._cluster.initialize()
                self._initialized = True
            else:
                await self._cluster.nodes_manager.initialize()

    async def start(self) -> None:
        """Learn the slot map now (a Cluster), so the first reads need no retry; a Cluster
        that cannot be reached yet is retried by the readers."""
        if self._cluster is not None:
            await self._reinitialize()

    async def aclose(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
        for client in (self._shared, *self._nodes.values()):
            if client is not None:
                await client.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()
