"""The Redis topology fixtures themselves: a real cluster, a real failover, nothing left over."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.support.cluster import SLOTS, command, slot_map
from tests.support.topology import Topology, start_topology
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


def _cluster_info(node_client: redis.Redis) -> dict[str, str]:
    text = str(command(node_client, "CLUSTER", "INFO"))
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _slots_by_master(topology: Topology) -> dict[int, int]:
    """Port of each master → how many slots it serves, as the first master sees it."""
    served: dict[int, int] = {}
    for first, last, port in slot_map(topology.masters[0].client()):
        served[port] = served.get(port, 0) + last - first + 1
    return served


@pytest.mark.parametrize("fixture", ["redis_cluster", "redis_cluster_replicas"])
def test_every_slot_is_served_and_every_node_agrees(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    topology: Topology = request.getfixturevalue(fixture)
    assert len(topology.masters) == 3
    for node in topology.nodes:
        info = _cluster_info(node.client())
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_assigned"] == info["cluster_slots_ok"] == str(SLOTS)
        assert info["cluster_known_nodes"] == str(len(topology.nodes))
    served = _slots_by_master(topology)
    assert set(served) == {node.port for node in topology.masters}
    assert sum(served.values()) == SLOTS
    assert max(served.values()) - min(served.values()) <= 1  # split evenly
    assert topology.url.startswith("redis+cluster://127.0.0.1:")


def test_each_master_has_one_replica_in_sync(redis_cluster_replicas: Topology) -> None:
    assert len(redis_cluster_replicas.replicas) == 3
    masters_of_replicas = set()
    for replica in redis_cluster_replicas.replicas:
        replication = replica.client().info("replication")
        assert replication["role"] == "slave"
        assert replication["master_link_status"] == "up"
        masters_of_replicas.add(int(replication["master_port"]))
    assert masters_of_replicas == {node.port for node in redis_cluster_replicas.masters}


def test_a_killed_master_is_replaced_by_its_replica(
    new_topology: Callable[[str], Topology],
) -> None:
    topology = new_topology("cluster-replicas")
    killed = topology.masters[0]
    served_before = _slots_by_master(topology)[killed.port]
    (replica,) = [
        node
        for node in topology.replicas
        if int(node.client().info("replication")["master_port"]) == killed.port
    ]
    pid = killed.pid
    assert pid is not None
    topology.kill(killed)
    assert not killed.alive and killed.pid is None

    promoted = topology.wait_for_failover(killed)

    assert promoted is replica and promoted.role == "master"
    assert _slots_by_master(topology)[promoted.port] == served_before
    for node in topology.nodes:
        if node.alive:
            assert _cluster_info(node.client())["cluster_state"] == "ok"
    topology.restart(killed)  # it comes back as the replica of the node that replaced it
    assert killed.role == "replica" and killed.alive
    assert int(killed.client().info("replication")["master_port"]) == promoted.port


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_close_leaves_no_process_and_no_folder_even_when_the_test_fails() -> None:
    pids: list[int] = []
    root = Path()
    with pytest.raises(RuntimeError, match="a failing test"), start_topology("cluster") as topology:
        pids = [node.pid for node in topology.nodes if node.pid is not None]
        root = topology.root
        assert len(pids) == 3 and all(not _gone(pid) for pid in pids) and root.is_dir()
        raise RuntimeError("a failing test")
    wait_for(lambda: all(_gone(pid) for pid in pids), 10, "every node to be gone")
    assert not root.exists()


def test_an_unknown_topology_starts_nothing() -> None:
    with pytest.raises(ValueError, match="unknown topology"), start_topology("clusterr"):
        pass
