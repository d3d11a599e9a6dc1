import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.redis import redis_url
from tests.support.stack import Stack
from tests.support.topology import Topology, start_topology


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """One real Redis server for the session; tests isolate themselves by key prefix."""
    with redis_url() as url:
        yield url


@pytest.fixture
def stack(redis_server_url: str, tmp_path: Path) -> Iterator[Stack]:
    """A factory of real edge and worker processes with a key prefix of their own."""
    stack = Stack(redis_server_url, tmp_path)
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
