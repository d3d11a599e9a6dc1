"""FastStream's broker for the Redis a URL names: one server, a Sentinel's master, or a
Redis Cluster (see `contracts.redis_url`)."""

import logging
from urllib.parse import quote

from faststream.redis import RedisBroker, RedisClusterBroker, RedisSentinelBroker

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
    return RedisBroker(url, logger=log)


def _credentials(target: RedisTarget) -> str:
    if not target.username and target.password is None:
        return ""
    user = quote(target.username or "", safe="")
    password = quote(target.password or "", safe="")
    return f"{user}:{password}@"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
