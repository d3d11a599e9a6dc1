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

from contracts.connect import BlockingReaders, QuickPool, connect
from contracts.packing import fast_connections
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


PIPELINE: list[tuple[Any, ...]] = [
    ("SET", "{p}a", "1"),
    ("GET", "{p}a"),
    ("GET", "{p}missing"),
    ("INCRBY", "{p}a", 2**40),
    ("HSET", "{p}h", "f", "é ✓", "g", "2"),
    ("HGETALL", "{p}h"),
    ("LPUSH", "{p}a", "x"),  # WRONGTYPE: an error answer among the others
    ("RPUSH", "{p}l", "a", "b", "c"),
    ("LRANGE", "{p}l", 0, -1),
    ("XADD", "{p}s", "0-1", "e", "1"),
    ("XRANGE", "{p}s", "-", "+"),
    ("EVAL", "return {1, {'two', {3}}, redis.status_reply('OK'), false}", 0),
    ("EVAL", "return redis.error_reply('MINE an error of a script')", 0),
    ("ZADD", "{p}z", 1.5, "m"),
    ("ZRANGE", "{p}z", 0, -1, "WITHSCORES"),
    ("PING",),
]


def _fast_client(url: str, **options: Any) -> Redis:
    """As `connect` makes one, with redis-py options it does not take."""
    return Redis.from_pool(fast_connections(QuickPool.from_url(url, max_connections=1, **options)))


def _pipeline(prefix: str) -> list[tuple[Any, ...]]:
    return [tuple(str(a).replace("{p}", prefix) for a in command) for command in PIPELINE]


def _comparable(answers: list[Any]) -> list[Any]:
    return [f"{type(a).__name__}: {a}" if isinstance(a, Exception) else a for a in answers]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("decode", [True, False])
async def test_a_pipeline_reads_answers_already_received_without_a_timer_each(
    redis_standalone: Topology, monkeypatch: pytest.MonkeyPatch, protocol: int, decode: bool
) -> None:
    """`contracts.packing`: redis-py sets a read timeout for every answer of a pipeline; the
    services' connections only for an answer not received yet, and answer the same: values,
    nils, nested arrays, error answers (each its own command's), parsed by redis-py's
    callbacks."""
    timers = 0
    made = asyncio.timeout  # what redis-py's connections read under (`async_timeout`)

    def counting(delay: float | None) -> Any:
        nonlocal timers
        timers += 1
        return made(delay)

    monkeypatch.setattr(redis.asyncio.connection, "async_timeout", counting)
    answers: dict[str, list[Any]] = {}
    counted: dict[str, int] = {}
    options: dict[str, Any] = {"decode_responses": decode, "protocol": protocol}
    for name, client in [
        ("redis-py", Redis.from_url(redis_standalone.url, **options)),
        ("services", _fast_client(redis_standalone.url, **options)),
    ]:
        prefix = f"{name}-{uuid.uuid4().hex}"
        try:
            assert await client.ping()  # connected: the handshake's reads are not counted
            timers = 0
            async with client.pipeline(transaction=False) as pipe:
                for command in _pipeline(prefix):
                    pipe.execute_command(*command)
                answers[name] = _comparable(await pipe.execute(raise_on_error=False))
            counted[name] = timers
        finally:
            await client.aclose()
    assert answers["services"] == answers["redis-py"]
    assert "WRONGTYPE" in str(answers["services"][6])
    assert counted["redis-py"] == len(PIPELINE)
    assert counted["services"] < len(PIPELINE) / 2, counted


async def _fake_redis(
    replies: Callable[[list[bytes]], bytes],
) -> tuple[asyncio.Server, int]:
    """A server that speaks just enough RESP: it parses each command and writes what
    `replies` answers for the commands of one read, in one write."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        try:
            while data := await reader.read(65536):
                buffer += data
                commands, buffer = _commands(buffer)
                writer.write(b"".join(replies(command) for command in commands))
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _commands(buffer: bytes) -> tuple[list[list[bytes]], bytes]:
    """The whole commands at the start of `buffer` (arrays of bulk strings), and the rest."""
    commands: list[list[bytes]] = []
    while buffer.startswith(b"*") and b"\r\n" in buffer:
        head, rest = buffer[1:].split(b"\r\n", 1)
        parts: list[bytes] = []
        for _ in range(int(head)):
            if b"\r\n" not in rest:
                return commands, buffer
            size, after = rest[1:].split(b"\r\n", 1)
            if len(after) < int(size) + 2:
                return commands, buffer
            parts.append(after[: int(size)])
            rest = after[int(size) + 2 :]
        commands.append(parts)
        buffer = rest
    return commands, buffer


def _handshake(command: list[bytes]) -> bytes | None:
    if command[0].upper() == b"HELLO":
        return b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"
    if command[0].upper() in (b"CLIENT", b"PING"):
        return b"+OK\r\n" if command[0].upper() == b"CLIENT" else b"+PONG\r\n"
    return None


async def test_a_push_message_among_a_pipelines_answers_is_handled_not_answered() -> None:
    """RESP3: a push message (here a client-side cache invalidation) that comes between two
    answers already received goes to the connection's push handler, and the next answer is
    the command's, as redis-py's parser does."""
    push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"

    def replies(command: list[bytes]) -> bytes:
        if (answer := _handshake(command)) is not None:
            return answer
        return {b"a": b"$1\r\n1\r\n" + push, b"b": push + b"$1\r\n2\r\n"}[command[1]]

    server, port = await _fake_redis(replies)
    client = _fast_client(f"redis://127.0.0.1:{port}", protocol=3, decode_responses=True)
    pushed: list[Any] = []

    async def handler(message: Any) -> None:
        pushed.append(message)

    async with server:
        try:
            assert await client.ping()
            (connection,) = client.connection_pool._available_connections
            connection._parser.set_invalidation_push_handler(handler)  # type: ignore[attr-defined]
            for _ in range(3):
                async with client.pipeline(transaction=False) as pipe:
                    pipe.get("a")
                    pipe.get("b")
                    pipe.get("b")
                    assert await asyncio.wait_for(pipe.execute(), 10) == ["1", "2", "2"]
            assert connection.is_connected
        finally:
            await client.aclose()
    assert pushed == [["invalidate", ["k"]]] * 9


@pytest.mark.parametrize("services", [False, True])
@pytest.mark.parametrize(
    ("second", "error"),
    [
        (b"$10\r\nhalf", redis.TimeoutError),  # cut off: waits under the read timeout
        (b"-LOADING Redis is loading the dataset in memory\r\n", redis.BusyLoadingError),
    ],
    ids=["cut-off", "loading"],
)
async def test_a_second_answer_that_breaks_the_connection_drops_it(
    services: bool, second: bytes, error: type[Exception]
) -> None:
    """A pipeline whose first answer came whole, with its second in the same read: an answer
    cut off half way still waits under redis-py's read timeout; `LOADING` (Redis restarting)
    is an answer redis-py raises as a connection error. Either way the connection is not used
    again, on redis-py's own connections and the services' alike."""

    def replies(command: list[bytes]) -> bytes:
        if (answer := _handshake(command)) is not None:
            return answer
        return b"$5\r\nwhole\r\n" if command[1] == b"first" else second

    server, port = await _fake_redis(replies)
    url = f"redis://127.0.0.1:{port}"
    options: dict[str, Any] = {"socket_timeout": 0.5}
    client = _fast_client(url, **options) if services else Redis.from_url(url, **options)
    async with server:
        try:
            assert await client.ping()
            (connection,) = client.connection_pool._available_connections
            async with client.pipeline(transaction=False) as pipe:
                pipe.get("first")
                pipe.get("second")
                with pytest.raises(error):
                    await asyncio.wait_for(pipe.execute(raise_on_error=False), 10)
            assert not connection.is_connected
        finally:
            await client.aclose()
