"""Redis topologies for tests, all from the one `redis-server` binary, on free ports of
127.0.0.1, in a temporary folder:

- `standalone`: one server;
- `cluster`: 3 masters sharing the 16384 slots;
- `cluster-replicas`: 3 masters and one replica each;
- `sentinel`: a master, its replica and one Sentinel watching them (quorum 1).

Every node can be killed (`kill -9`) and restarted on its port and folder; `close()` stops
every process and removes the folder. Cluster nodes time out after 1 s, so a killed master's
replica takes over within seconds.
"""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support import cluster
from tests.support.nodes import Node, start_fresh
from tests.support.wait import wait_for

KINDS = ("standalone", "cluster", "cluster-replicas", "sentinel")
NODE_TIMEOUT_MS = 1000
SENTINEL_SERVICE = "relayline"
FAILOVER_SECONDS = 30


class Topology:
    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.nodes: list[Node] = []

    @property
    def url(self) -> str:
        """The URL a service would be given in REDIS_URL."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes if node.role != "sentinel")
        if self.kind.startswith("cluster"):
            return f"redis+cluster://{hosts}"
        if self.kind == "sentinel":
            sentinels = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
            return f"redis+sentinel://{sentinels}/{SENTINEL_SERVICE}"
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def masters(self) -> list[Node]:
        return [node for node in self.nodes if node.role == "master"]

    @property
    def replicas(self) -> list[Node]:
        return [node for node in self.nodes if node.role == "replica"]

    @property
    def sentinels(self) -> list[Node]:
        return [node for node in self.nodes if node.role == "sentinel"]

    def kill(self, node: Node) -> None:
        """`kill -9` the node's process."""
        node.kill()

    def restart(self, node: Node) -> None:
        """Start a killed node again on its port and folder (a cluster node keeps its
        nodes.conf: it rejoins, as a replica when its replica took over), then wait until the
        topology is ready again. A Sentinel would turn a returning old master into a replica
        within ~10 s; it is told at once here, as the Sentinel would tell it."""
        node.start()
        if self.kind == "sentinel" and node.role == "replica":
            node.client().replicaof("127.0.0.1", self.masters[0].port)
        self.wait_ready()

    def wait_ready(self, timeout: float = FAILOVER_SECONDS) -> None:
        """Wait until the live nodes agree and serve every slot; roles are then refreshed."""
        live = [node for node in self.nodes if node.alive and node.role != "sentinel"]
        if self.kind.startswith("cluster"):
            clients = [node.client() for node in live]
            shared = wait_for(lambda: cluster.settled(clients), timeout, "cluster to settle")
            assert shared is not None
            masters = {entry.port for entry in shared if entry.master and not entry.failed}
            for node in live:
                node.role = "master" if node.port in masters else "replica"
        elif self.kind == "sentinel":
            wait_for(self._sentinel_settled, timeout, "sentinel to settle")

    def wait_for_failover(self, killed: Node, timeout: float = FAILOVER_SECONDS) -> Node:
        """After `killed` (a master) died: wait until one of the live replicas became master
        and the topology is ready again; return the promoted node."""
        candidates = [node for node in self.replicas if node.alive]
        if not candidates:
            raise ValueError(f"no live replica could replace the master on port {killed.port}")
        killed.role = "replica"  # it will come back as one, if restarted
        wait_for(
            lambda: any(node.info_role() == "master" for node in candidates),
            timeout,
            f"a replica to replace the master on port {killed.port}",
        )
        self.wait_ready(timeout)
        (promoted,) = [node for node in candidates if node.role == "master"]
        return promoted

    def _sentinel_settled(self) -> bool:
        live = [node for node in self.nodes if node.alive and node.role != "sentinel"]
        sentinel = self.sentinels[0].client()
        address = sentinel.sentinel_get_master_addr_by_name(SENTINEL_SERVICE)
        master_port = int(address[1]) if isinstance(address, tuple) else None
        if master_port not in {node.port for node in live}:
            return False
        known = sentinel.sentinel_slaves(SENTINEL_SERVICE)
        if sum(1 for replica in known if not replica["is_sdown"]) != len(live) - 1:
            return False  # the Sentinel does not know every live replica yet
        for node in live:
            node.role = "master" if node.port == master_port else "replica"
        return all(node.info_role() == node.role and node.link_up() for node in live)

    def close(self) -> None:
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def start_topology(kind: str) -> Iterator[Topology]:
    """A started, ready topology of `kind`; everything stops when the block ends, even when
    the start itself failed half-way."""
    if kind not in KINDS:
        raise ValueError(f"unknown topology {kind!r}; known: {', '.join(KINDS)}")
    topology = Topology(kind, Path(tempfile.mkdtemp(prefix=f"relayline-{kind}-")))
    try:
        _build(topology)
        yield topology
    finally:
        topology.close()


def _build(topology: Topology) -> None:
    if topology.kind == "standalone":
        topology.nodes.append(start_fresh(topology.root / "node0", "master"))
    elif topology.kind == "sentinel":
        _build_sentinel(topology)
    else:
        _build_cluster(topology, replicas=topology.kind == "cluster-replicas")
    topology.wait_ready()


def _build_cluster(topology: Topology, replicas: bool) -> None:
    replica_of: list[int | None] = [None, None, None] + ([0, 1, 2] if replicas else [])
    for index, master in enumerate(replica_of):
        role = "master" if master is None else "replica"
        node = start_fresh(topology.root / f"node{index}", role, cluster_ms=NODE_TIMEOUT_MS)
        topology.nodes.append(node)
    seed = topology.nodes[0]
    assert seed.bus_port is not None
    cluster.form_cluster([node.client() for node in topology.nodes], seed.bus_port, replica_of)


def _build_sentinel(topology: Topology) -> None:
    master = start_fresh(topology.root / "node0", "master")
    topology.nodes.append(master)
    replica = start_fresh(topology.root / "node1", "replica")
    topology.nodes.append(replica)
    replica.client().replicaof("127.0.0.1", master.port)
    sentinel = start_fresh(
        topology.root / "sentinel0",
        "sentinel",
        sentinel_lines=[
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {master.port} 1",
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {NODE_TIMEOUT_MS}",
            f"sentinel failover-timeout {SENTINEL_SERVICE} 5000",
        ],
    )
    topology.nodes.append(sentinel)
