import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.openai_clients import close_all
from tests.support.redis import redis_url
from tests.support.stack import Stack
from tests.support.topology import Topology, start_topology


@pytest.fixture(autouse=True)
def _close_openai_clients() -> Iterator[None]:
    """The `openai` clients a test made (tests/support/openai_clients.py) close when it ends."""
    yield
    close_all()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """One real Redis server for the session; tests isolate themselves by key prefix."""
    with redis_url() as url:
        yield url


@pytest.fixture
async def redis(redis_server_url: str) -> AsyncIterator[Redis]:
    """An asyncio client of the session's Redis server, decoding responses."""
    client = Redis.from_url(redis_server_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


ON_CLUSTER_TOO = "on_cluster_too"
"""A module marked with it runs each test that uses `stack` twice: on one server, and on a
3-master Redis Cluster (`REDIS_URL=redis+cluster://…`, nothing else changed)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" in metafunc.fixturenames and metafunc.definition.get_closest_marker(ON_CLUSTER_TOO):
        metafunc.parametrize("stack", ["server", "cluster"], indirect=True)


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """A factory of real edge and worker processes with a key prefix of their own, on the
    session's Redis server (or its Redis Cluster, see `ON_CLUSTER_TOO`)."""
    on_cluster = getattr(request, "param", "server") == "cluster"
    url = (
        request.getfixturevalue("redis_cluster").url
        if on_cluster
        else request.getfixturevalue("redis_server_url")
    )
    stack = Stack(url, tmp_path)
    try:
        yield stack
    finally:
        stack.close()


# Redis topologies (tests/support/topology.py). Session fixtures start nothing until a test
# asks for them, and are shared: a test that kills a node of one restarts it before it ends,
# or starts a topology of its own with `new_topology`.


@pytest.fixture(scope="session")
def redis_standalone() -> Iterator[Topology]:
    with start_topology("standalone") as topology:
        yield topology


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Topology]:
    """3 masters sharing the 16384 slots."""
    with start_topology("cluster") as topology:
        yield topology


@pytest.fixture(scope="session")
def redis_cluster_replicas() -> Iterator[Topology]:
    """3 masters, one replica each; a killed master's replica takes over within seconds."""
    with start_topology("cluster-replicas") as topology:
        yield topology


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[Topology]:
    """A master, its replica and one Sentinel (service `relayline`)."""
    with start_topology("sentinel") as topology:
        yield topology


TOPOLOGY_FIXTURES = {
    "standalone": "redis_standalone",
    "cluster": "redis_cluster",
    "cluster-replicas": "redis_cluster_replicas",
    "sentinel": "redis_sentinel",
}


@pytest.fixture
def new_topology() -> Iterator[Callable[[str], Topology]]:
    """A factory of topologies of this test's own (to kill at will), all closed after it."""
    with contextlib.ExitStack() as started:
        yield lambda kind: started.enter_context(start_topology(kind))
