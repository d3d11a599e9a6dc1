"""One Redis URL, one asyncio client, whatever the deployment behind it (see `redis_url`).

- `redis://`, `rediss://`, `unix://`: a `Redis` on a blocking pool (`QuickPool`), as the edge
  and the worker have always built it: when all `max_connections` are busy, a command waits up
  to `pool_timeout` seconds for one instead of failing.
- `redis+sentinel://`: a `Redis` on the master the Sentinels name, on a blocking pool too;
  after a failover its connections follow the new master.
- `redis+cluster://`: a `RedisCluster` seeded with every listed node, reading from masters.
  `max_connections` is per node, and a node with all of them busy fails the command at once
  (`MaxConnectionsError`, a `ConnectionError`): redis-py's cluster client does not wait.

The client is not connected yet; the first command connects. Close it with `aclose()`. Its
connections pack in C and write without a task (`contracts.packing`).
"""

from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Connection, Redis, SSLConnection
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError, RedisClusterException, RedisError

from contracts.packing import fast_class, fast_connections
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
    client_name: str | None = None,
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
        "client_name": client_name,
    }
    if target.deployment is Deployment.CLUSTER:
        return _cluster(target, options)
    options["timeout"] = pool_timeout  # the blocking pool's wait for a free connection
    if target.deployment is Deployment.SENTINEL:
        return _sentinel_master(target, options)
    return Redis.from_pool(fast_connections(QuickPool.from_url(url, **options)))


class QuickPool(BlockingConnectionPool):
    """redis-py's blocking pool, without its bookkeeping when no command has to wait.

    For every command, redis-py 8's blocking pool enters an `asyncio.Condition`, sets a
    timeout, waits on a predicate, records its metrics and, on release, dispatches an event to
    its listeners: a large share of a one-command round trip's CPU (docs/benchmarks.md).
    Here, while a connection is idle and no command waits for one, `get_connection` takes it
    and `release` puts it back directly, checked as redis-py checks it (`ensure_connection`,
    `should_reconnect`). Whenever a command waits (every connection busy, or a new one to
    make), redis-py's own path runs for it and for every release meanwhile, with its wait,
    its `timeout` and its notify. So does every command of a pool with a credential provider
    (its release re-authenticates) or in a maintenance window."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = 0
        """Commands in redis-py's own `get_connection` (waiting, or making a connection)."""
        self._quick = self.connection_kwargs.get("credential_provider") is None

    def _direct(self) -> bool:
        return self._quick and not self._waiting and not getattr(self, "_in_maintenance", False)

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        if self._available_connections and self._direct():
            connection = self._available_connections.pop()
            self._in_use_connections.add(connection)
            try:
                await self.ensure_connection(connection)
            except BaseException:
                await self.release(connection)
                raise
            return connection
        self._waiting += 1
        try:
            return cast(AbstractConnection, await super().get_connection())  # type: ignore[no-untyped-call]
        finally:
            self._waiting -= 1

    async def release(self, connection: AbstractConnection) -> None:
        if not self._direct():
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():  # type: ignore[no-untyped-call]
            await connection.disconnect()
        self._available_connections.append(connection)


def _cluster(target: RedisTarget, options: dict[str, Any]) -> RedisCluster:
    client = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        username=target.username,
        password=target.password,
        ssl=target.ssl,
        # No load_balancing_strategy: every command, reads too, goes to the slot's master.
        require_full_coverage=True,
        **options,
    )
    # The cluster client picks its connection class itself and gives every node it learns of
    # its `connection_kwargs` (the dict its nodes manager shares): the fast one there, and on
    # the seeds it already made.
    kwargs = client.connection_kwargs
    kwargs["connection_class"] = fast_class(kwargs["connection_class"], kwargs)
    for node in client.startup_nodes:
        node.connection_class = kwargs["connection_class"]
    return client


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
    fast_connections(client.connection_pool)
    return client


class BlockingSentinelPool(SentinelConnectionPool, QuickPool):
    """Sentinel's master discovery with the blocking pool's wait for a free connection (the
    MRO puts `QuickPool` between the Sentinel pool and the plain one). Closing
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
    """Clients for blocking reads (`XREAD BLOCK`, each holding a connection while it waits),
    by a key of what they read: `await readers(key)`.

    - One server, or a Sentinel-watched master: one client whose pool of `connections` every
      key shares (a read waits for a free connection rather than failing).
    - A Cluster (`client` is the service's `RedisCluster`): a plain client of the master that
      owns the key's slot, one per node with a pool of `connections`, so a blocking read goes
      straight there (the cluster client's generic path looks the node up and routes each
      read). The slot map is `client`'s: the commands a service sends through it after an
      error (MOVED, a dead node) make it learn where a slot went, so the next ask finds it.

    A key whose slot no known node serves is a `ConnectionError`, like a node that is away."""

    def __init__(
        self,
        url: str,
        client: Redis | RedisCluster,
        *,
        connections: int,
        name: str = "relayline-reader",
    ) -> None:
        self._target = parse_redis_url(url)
        self._connections = connections
        self._name = name  # the connections' CLIENT SETNAME, to tell them apart in CLIENT LIST
        self._cluster = client if isinstance(client, RedisCluster) else None
        self._shared = None
        if self._cluster is None:
            shared = connect(url, max_connections=connections, pool_timeout=None, client_name=name)
            self._shared = cast(Redis, shared)
        self._nodes: dict[str, Redis] = {}

    @property
    def clients(self) -> list[Redis]:
        """The clients made so far."""
        return [client for client in (self._shared, *self._nodes.values()) if client is not None]

    async def __call__(self, key: str) -> Redis:
        if self._shared is not None:
            return self._shared
        assert self._cluster is not None
        try:
            node = self._cluster.get_node_from_key(key)
        except (RedisClusterException, RedisError) as exc:  # the slot map is not known yet
            raise ConnectionError(f"no node is known to serve {key!r} ({exc})") from exc
        if node is None:
            raise ConnectionError(f"no node is known to serve {key!r}")
        client = self._nodes.get(node.name)
        if client is None:
            pool = QuickPool(
                host=node.host,
                port=int(node.port),
                username=self._target.username,
                password=self._target.password,
                connection_class=SSLConnection if self._target.ssl else Connection,
                decode_responses=True,
                max_connections=self._connections,
                timeout=None,
                client_name=self._name,
            )
            client = self._nodes[node.name] = Redis.from_pool(fast_connections(pool))
        return client

    async def aclose(self) -> None:
        """Close the clients it made (not the cluster client it was given)."""
        for client in self.clients:
            await client.aclose()
