"""`contracts.connect` picks the client class from the URL and refuses bad input before any
network traffic (no Redis is needed: a client connects on its first command)."""

import pytest
from pydantic import ValidationError
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

from contracts.connect import BlockingSentinelPool, connect
from edge.settings import Settings as EdgeSettings
from worker.settings import Settings as WorkerSettings


async def test_one_server_gets_a_blocking_pool() -> None:
    client = connect("redis://127.0.0.1:1/2", max_connections=7, pool_timeout=3)
    try:
        assert isinstance(client, Redis)
        pool = client.connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (7, 3)
        assert pool.connection_kwargs["db"] == 2
    finally:
        await client.aclose()


async def test_sentinel_gets_a_blocking_pool_on_the_named_master() -> None:
    client = connect("redis+sentinel://:pw@127.0.0.1:1/main/3", max_connections=5)
    try:
        assert isinstance(client, Redis)
        pool = client.connection_pool
        assert isinstance(pool, BlockingSentinelPool)
        assert (pool.service_name, pool.max_connections) == ("main", 5)
        assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (3, "pw")
    finally:
        await client.aclose()


async def test_cluster_gets_a_cluster_client_with_every_seed() -> None:
    client = connect("redis+cluster://127.0.0.1:1,[::1]:2", max_connections=9)
    try:
        assert isinstance(client, RedisCluster)
        seeds = {(node.host, node.port) for node in client.nodes_manager.startup_nodes.values()}
        assert seeds == {("127.0.0.1", 1), ("::1", 2)}
    finally:
        await client.aclose()


@pytest.mark.parametrize("count", [0, -1])
def test_max_connections_must_be_positive(count: int) -> None:
    with pytest.raises(ValueError, match="max_connections"):
        connect("redis://127.0.0.1:1/0", max_connections=count)


def test_a_malformed_url_raises_before_any_client_exists() -> None:
    with pytest.raises(ValueError, match=r"redis\+cluster://"):
        connect("redis+cluster://h:0", max_connections=1)


@pytest.mark.parametrize("settings", [EdgeSettings, WorkerSettings])
def test_the_services_take_every_form_of_url_and_refuse_anything_else(
    settings: type[EdgeSettings] | type[WorkerSettings],
) -> None:
    cluster = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
    assert settings(redis_url=cluster).redis_url == cluster
    with pytest.raises(ValidationError, match="redis://"):
        settings(redis_url="http://127.0.0.1:6379")
    sentinel = "redis+sentinel://127.0.0.1:26379/relayline"
    assert settings(redis_url=sentinel).redis_url == sentinel
