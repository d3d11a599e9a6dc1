"""`contracts.connect`: one URL gives a working client on every topology."""

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from contracts.connect import BlockingReaders, connect
from tests.conftest import TOPOLOGY_FIXTURES
from tests.support.cluster import command, owner_port, slot_map
from tests.support.topology import Topology
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration

# Both keys share the hash tag of the first: one slot, so one script may touch both.
SWAP = """
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], old)
return old
"""


@pytest.fixture(params=list(TOPOLOGY_FIXTURES))
def topology(request: pytest.FixtureRequest) -> Topology:
    fixture: Topology = request.getfixturevalue(TOPOLOGY_FIXTURES[request.param])
    return fixture


async def test_set_get_and_a_script_with_hash_tagged_keys(topology: Topology) -> None:
    tag = "{" + uuid.uuid4().hex + "}"
    client = connect(topology.url, max_connections=4)
    try:
        assert await client.set(f"{tag}x", "first")
        assert await client.get(f"{tag}x") == "first"
        swap = client.register_script(SWAP)
        assert await swap(keys=[f"{tag}x", f"{tag}old"], args=["second"]) == "first"
        assert await client.mget([f"{tag}x", f"{tag}old"]) == ["second", "first"]
    finally:
        await client.aclose()
    if topology.kind.startswith("cluster"):
        assert isinstance(client, RedisCluster)
        _assert_stored_on_the_slot_owner(topology, f"{tag}x")
        classes = {node.connection_class for node in client.get_nodes()}
        assert [c.__module__ for c in classes] == ["contracts.packing"]  # every node's
    else:
        assert isinstance(client, Redis)


def _assert_stored_on_the_slot_owner(topology: Topology, key: str) -> None:
    """The key is on the one master that serves its slot: the client routed it there."""
    slot = key_slot(key.encode())
    holders = [
        node.port
        for node in topology.masters
        if command(node.client(), "CLUSTER", "COUNTKEYSINSLOT", slot)
    ]
    owner = [
        port
        for first, last, port in slot_map(topology.masters[0].client())
        if first <= slot <= last
    ]
    assert holders == owner


@pytest.mark.parametrize("fixture", ["redis_standalone", "redis_sentinel"])
async def test_a_busy_pool_makes_commands_wait_instead_of_failing(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """One connection, held by a blocking read: the next command waits its turn (a plain
    ConnectionPool would raise "Too many connections")."""
    topology: Topology = request.getfixturevalue(fixture)
    key = uuid.uuid4().hex
    client = connect(topology.url, max_connections=1, pool_timeout=30)
    try:
        blocked = asyncio.ensure_future(client.blpop([key], timeout=1))
        await async_wait_for(lambda: _blocked_clients(topology, 1), 10, "BLPOP to block")
        assert await client.ping()
        assert await blocked is None
    finally:
        await client.aclose()


async def _blocked_clients(topology: Topology, count: int) -> bool:
    master = topology.masters[0].client()
    return int(master.info("clients")["blocked_clients"]) >= count


async def test_the_sentinel_client_follows_a_failover(
    new_topology: Callable[[str], Topology],
) -> None:
    topology = new_topology("sentinel")
    client = connect(topology.url, max_connections=4)
    try:
        assert await client.set("before", "kept")
        assert await client.wait(1, 5000) == 1  # on the replica before the master dies
        killed = topology.masters[0]
        topology.kill(killed)
        promoted = topology.wait_for_failover(killed)
        assert await async_wait_for(lambda: _get(client, "before"), 20, "the new master") == "kept"
        assert await client.set("after", "written")
    finally:
        await client.aclose()
    assert promoted.client().get("after") == "written"


async def _get(client: Redis | RedisCluster, key: str) -> str | None:
    try:
        value = await client.get(key)
    except redis.RedisError:  # a connection to the dead master, until the pool moves on
        return None
    return str(value) if value is not None else None


async def test_the_cluster_client_follows_a_failover(
    new_topology: Callable[[str], Topology],
) -> None:
    """The slot's master dies; its replica takes over and the same client finds it."""
    topology = new_topology("cluster-replicas")
    client = connect(topology.url, max_connections=4)
    try:
        assert await client.set("{t}x", "kept")
        slot = key_slot(b"{t}x")
        (owner,) = [
            node
            for node in topology.masters
            if command(node.client(), "CLUSTER", "COUNTKEYSINSLOT", slot)
        ]
        assert command(owner.client(), "WAIT", 1, 5000) == 1  # on its replica first
        topology.kill(owner)
        promoted = topology.wait_for_failover(owner)
        assert await async_wait_for(lambda: _get(client, "{t}x"), 20, "the new master") == "kept"
        assert await client.set("{t}y", "written")
    finally:
        await client.aclose()
    assert promoted.client().get("{t}y") == "written"


async def test_a_blocking_read_goes_to_the_node_that_owns_the_key(topology: Topology) -> None:
    """`BlockingReaders`: on a Cluster the client of each key is its slot owner's, so a
    blocking XREAD there wakes on an XADD through the cluster client; elsewhere one pool."""
    keys = [f"{{{uuid.uuid4().hex}}}s" for _ in range(6)]
    writer = connect(topology.url, max_connections=4)
    readers = BlockingReaders(topology.url, writer, connections=len(keys))
    try:
        await writer.ping()  # a cluster client learns the slot map
        clients = [await readers(key) for key in keys]
        reads = [
            asyncio.ensure_future(client.xread({key: "$"}, block=20000))
            for client, key in zip(clients, keys, strict=True)
        ]
        # a read blocks before its XADD: the XADD must reach the node it waits on
        await async_wait_for(lambda: _blocked(topology, len(keys)), what="every read blocked")
        for key in keys:
            await writer.xadd(key, {"f": key})
        answers: list[Any] = await asyncio.wait_for(asyncio.gather(*reads), 10)
    finally:
        await readers.aclose()
        await writer.aclose()
    assert [answer[0][1][0][1]["f"] for answer in answers] == keys
    if topology.kind.startswith("cluster"):
        for key, client in zip(keys, clients, strict=True):
            assert client.connection_pool.connection_kwargs["port"] == owner_port(
                topology.masters[0].client(), key
            )
    else:
        assert len({id(client) for client in clients}) == 1


async def _blocked(topology: Topology, count: int) -> bool:
    masters = topology.masters
    blocked = sum(int(node.client().info("clients")["blocked_clients"]) for node in masters)
    return blocked >= count


@pytest.mark.parametrize("fixture", ["redis_standalone", "redis_sentinel"])
async def test_a_command_on_an_idle_connection_takes_no_lock_and_no_task(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """`QuickPool` and `contracts.packing`: redis-py's blocking pool enters its condition
    for every command, and its connections send each one in a task of its own
    (`asyncio.wait_for`); ours do neither while nothing has to wait."""
    topology: Topology = request.getfixturevalue(fixture)
    client = connect(topology.url, max_connections=2, health_check_interval=30)  # as the edge's
    assert isinstance(client, Redis)
    loop = asyncio.get_running_loop()
    tasks = 0

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        nonlocal tasks
        tasks += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    try:
        assert await client.set("k", "v")  # connected, and back in the pool
        loop.set_task_factory(counting)
        async with client.connection_pool._condition, asyncio.timeout(5):  # type: ignore[attr-defined]
            answers = [await client.get("k") for _ in range(20)]
    finally:
        loop.set_task_factory(None)
        await client.aclose()
    assert answers == ["v"] * 20
    assert tasks == 0


async def test_many_commands_share_a_few_connections(redis_standalone: Topology) -> None:
    """200 commands at once on 3 connections: each waits its turn through redis-py's path,
    and every connection is back in the pool at the end."""
    key = uuid.uuid4().hex
    client = connect(redis_standalone.url, max_connections=3)
    assert isinstance(client, Redis)
    try:
        await asyncio.wait_for(asyncio.gather(*(client.incr(key) for _ in range(200))), 30)
        assert await client.get(key) == "200"
        pool = client.connection_pool
        assert not pool._in_use_connections
        assert len(pool._available_connections) <= 3
    finally:
        await client.aclose()


async def test_a_busy_pool_still_times_out(redis_standalone: Topology) -> None:
    client = connect(redis_standalone.url, max_connections=1, pool_timeout=0.2)
    try:
        held = asyncio.ensure_future(client.blpop([uuid.uuid4().hex], timeout=1))
        await async_wait_for(lambda: _blocked_clients(redis_standalone, 1), 10, "BLPOP to block")
        with pytest.raises(redis.ConnectionError, match="No connection available"):
            await client.ping()
        assert await held is None
        assert await client.ping()  # the connection came back
    finally:
        await client.aclose()


async def test_a_command_larger_than_the_socket_buffer_is_written_whole(
    redis_standalone: Topology,
) -> None:
    """A write the socket cannot take at once waits for the rest, as redis-py does."""
    key, value = uuid.uuid4().hex, "é" * 4_000_000 + "end"
    client = connect(redis_standalone.url, max_connections=1)
    try:
        results = await asyncio.gather(*(client.set(f"{key}{n}", value) for n in range(3)))
        assert results == [True] * 3
        assert await client.get(f"{key}2") == value
    finally:
        await client.aclose()


async def test_a_connection_the_server_closed_is_replaced(redis_standalone: Topology) -> None:
    """As with redis-py's own pool (no retries configured): a command sent before the client
    saw the close fails, and the next one gets a new connection."""
    client = connect(redis_standalone.url, max_connections=1, client_name="closing")
    try:
        for _ in range(3):
            assert await client.ping()
            killed = redis_standalone.masters[0].client().client_kill_filter(_type="normal")
            assert killed >= 1
            with contextlib.suppress(redis.ConnectionError):  # sent on the closed connection
                await client.set("after", "the kill")
            assert await client.set("after", "the kill")
            assert await client.get("after") == "the kill"
    finally:
        await client.aclose()


async def test_a_health_check_that_is_due_still_comes_first(redis_standalone: Topology) -> None:
    """A connection whose `health_check_interval` has passed sends redis-py's PING before the
    command, as redis-py's own send does; one not due sends none."""
    key = uuid.uuid4().hex
    server = redis_standalone.masters[0].client()

    def pings() -> int:
        return int(server.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))

    client = connect(redis_standalone.url, max_connections=1, health_check_interval=30)
    assert isinstance(client, Redis)
    try:
        assert await client.set(key, "v")
        (connection,) = client.connection_pool._available_connections
        before = pings()
        assert await client.get(key) == "v"
        assert pings() == before
        connection.next_health_check = 0  # due
        assert await client.get(key) == "v"
        assert pings() == before + 1
    finally:
        await client.aclose()


async def test_commands_cancelled_at_any_point_leave_no_reply_behind(
    redis_standalone: Topology,
) -> None:
    """Commands cancelled after a random delay (before they are sent, while their reply is on
    its way, or while a write that filled the socket drains), two at a time on two
    connections so that none waits for one (`QuickPool` lends directly), then 200 at once
    (redis-py's path): every command that answered got its own reply, and afterwards every
    connection is back and answers in order. A connection lent twice, or put back with a
    reply unread, would mix replies."""
    rng = random.Random(7)
    prefix = uuid.uuid4().hex
    client = connect(redis_standalone.url, max_connections=2, pool_timeout=30)
    assert isinstance(client, Redis)
    loop = asyncio.get_running_loop()

    async def echo(n: int) -> None:
        value = f"{n}-{'x' * rng.randrange(0, 200_000, 1000)}"  # some writes fill the socket
        assert await client.set(f"{prefix}{n}", value)
        assert await client.get(f"{prefix}{n}") == value

    async def round_of(first: int, count: int, most_delay: float) -> list[BaseException | None]:
        tasks = [asyncio.ensure_future(echo(n)) for n in range(first, first + count)]
        for task in tasks:
            loop.call_later(rng.uniform(0, most_delay), task.cancel)
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)

    try:
        results = []
        for first in range(0, 600, 2):
            results += await round_of(first, 2, 0.004)
        results += await round_of(600, 200, 0.2)
        failures = [r for r in results if not isinstance(r, asyncio.CancelledError | None)]
        assert not failures, failures[:3]
        answered = sum(r is None for r in results)
        assert 0 < answered < len(results)  # some cancelled, some not
        pool = client.connection_pool
        assert not pool._in_use_connections
        for n in range(50):  # every connection in turn, each reply the command's own
            assert await client.echo(f"{prefix}{n}") == f"{prefix}{n}"
    finally:
        await client.aclose()
