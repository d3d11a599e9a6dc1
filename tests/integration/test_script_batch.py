"""`contracts.batch.ScriptBatch` against a real Redis server and a real Cluster: the script
calls of one turn of the loop share one round trip, and each keeps its own answer."""

import asyncio
import uuid
from typing import Any, cast

import pytest
import redis as sync_redis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError

from contracts.batch import ScriptBatch
from contracts.connect import connect
from relayline.redis_server import free_port
from tests.support.topology import Topology

pytestmark = pytest.mark.integration

ECHO = "return {KEYS[1], ARGV[1]}"
ADD = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAILS_ON_BAD = "if ARGV[1] == 'bad' then return redis.error_reply('refused') end return ARGV[1]"


def connections_named(url: str, name: str) -> int:
    with sync_redis.Redis.from_url(url, decode_responses=True) as admin:
        clients = cast(list[dict[str, Any]], admin.client_list())
    return sum(1 for client in clients if client["name"] == name)


async def test_the_calls_of_one_turn_share_one_connection(redis_server_url: str) -> None:
    name = f"batch-{uuid.uuid4().hex[:8]}"
    client = cast(Redis, connect(redis_server_url, max_connections=64, client_name=name))
    try:
        echo = client.register_script(ECHO)
        batch = ScriptBatch(client)
        answers = await asyncio.gather(*(batch(echo, [f"k{n}"], [n]) for n in range(50)))
        assert answers == [[f"k{n}", str(n)] for n in range(50)]
        # 50 calls at once, one by one, would take as many connections from the pool
        assert connections_named(redis_server_url, name) == 1
        unbatched = await asyncio.gather(*(echo(keys=[f"k{n}"], args=[n]) for n in range(50)))
        assert unbatched == answers
        assert connections_named(redis_server_url, name) > 1  # what the batch saves
    finally:
        await client.aclose()


async def test_an_error_reaches_its_caller_only(redis: Redis) -> None:
    script = redis.register_script(FAILS_ON_BAD)
    batch = ScriptBatch(redis)
    answers = await asyncio.gather(
        batch(script, ["k"], ["a"]),
        batch(script, ["k"], ["bad"]),
        batch(script, ["k"], ["c"]),
        return_exceptions=True,
    )
    assert answers[0] == "a" and answers[2] == "c"
    assert isinstance(answers[1], ResponseError) and "refused" in str(answers[1])


async def test_scripts_lost_by_redis_are_loaded_again(redis: Redis) -> None:
    echo = redis.register_script(ECHO)
    batch = ScriptBatch(redis)
    await asyncio.gather(*(batch(echo, ["k"], [n]) for n in range(3)))
    await redis.script_flush()  # what a restart without persistence does
    answers = await asyncio.gather(*(batch(echo, ["k"], [n]) for n in range(3)))
    assert answers == [["k", str(n)] for n in range(3)]
    await redis.script_flush()
    assert await batch(echo, ["k"], ["alone"]) == ["k", "alone"]  # a call alone too


async def test_on_a_cluster_each_call_goes_to_its_slots_node(redis_cluster: Topology) -> None:
    client = connect(redis_cluster.url, max_connections=8)
    try:
        echo = client.register_script(ECHO)
        batch = ScriptBatch(cast(Redis, client))
        keys = [f"{{tag-{n}}}:k" for n in range(30)]  # slots on every master
        for _ in range(2):  # the first turn finds no node holding the script
            answers = await asyncio.gather(*(batch(echo, [key], [key]) for key in keys))
            assert answers == [[key, key] for key in keys]
    finally:
        await client.aclose()


async def test_a_caller_that_stops_waiting_leaves_the_others_their_answers(
    redis: Redis,
) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:n"
    script = redis.register_script(ADD)
    batch = ScriptBatch(redis)
    gone = asyncio.ensure_future(batch(script, [key], [1]))
    kept = [asyncio.ensure_future(batch(script, [key], [1])) for _ in range(3)]
    await asyncio.sleep(0)  # a yield, no wait: the four calls start and queue
    gone.cancel()
    assert sorted(await asyncio.gather(*kept)) in ([1, 2, 3], [2, 3, 4])
    assert gone.cancelled()


async def test_redis_unreachable_fails_every_call_of_the_batch() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    script = redis.register_script(ADD)
    batch = ScriptBatch(redis)
    try:
        answers = await asyncio.gather(
            *(batch(script, ["k"], [1]) for _ in range(3)), return_exceptions=True
        )
    finally:
        await redis.aclose()
    assert all(isinstance(answer, ConnectionError) for answer in answers)
