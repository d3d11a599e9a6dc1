"""FastStream's broker for the Redis a URL names: one server, a Sentinel's master, or a
Redis Cluster (see `contracts.redis_url`)."""

import logging
from typing import Any, cast
from urllib.parse import quote

from faststream.redis import RedisBroker, RedisClusterBroker, RedisSentinelBroker
from redis.asyncio.connection import Connection, parse_url

from contracts.packing import fast_class
from contracts.redis_url import Deployment, RedisTarget, parse_redis_url

log = logging.getLogger("relayline.worker")


def broker_for(url: str) -> RedisBroker:
    target = parse_redis_url(url)
    if target.deployment is Deployment.SENTINEL:
        # The broker takes the data nodes' credentials and db from a URL; its host is unused.
        return RedisSentinelBroker(
            f"redis://{_credentials(target)}localhost/{target.db}",
            sentinels=list(target.hosts),
            sentinel_master_name=target.service_name,
            logger=log,
        )
    if target.deployment is Deployment.CLUSTER:
        # Seeded with every listed node; the URL carries the credentials and TLS.
        host, port = target.hosts[0]
        scheme = "rediss" if target.ssl else "redis"
        return RedisClusterBroker(
            f"{scheme}://{_credentials(target)}{_host(host)}:{port}",
            startup_nodes=list(target.hosts[1:]),
            logger=log,
        )
    # Connections that write without a task of their own (`contracts.packing`), as the
    # worker's own client has: the readers' wait for a submit goes through this one.
    options: dict[str, Any] = dict(parse_url(url))
    connection = fast_class(options.get("connection_class", Connection), options)
    return RedisBroker(url, logger=log, connection_class=cast(type[Connection], connection))


def _credentials(target: RedisTarget) -> str:
    if not target.username and target.password is None:
        return ""
    user = quote(target.username or "", safe="")
    password = quote(target.password or "", safe="")
    return f"{user}:{password}@"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
