"""One redis-server process of a test topology: a plain server, a cluster node or a Sentinel,
started on free ports, killable with SIGKILL and restartable on the same ports and folder."""

import signal
from dataclasses import dataclass, field
from pathlib import Path

import redis

from relayline.redis_server import RedisProcess, free_port, start_redis

# A replica's full sync starts at once, not after the default 5 s wait for more replicas.
_SYNC_AT_ONCE = ("--repl-diskless-sync-delay", "0")
ATTEMPTS = 5  # another process may take a free port between our look and redis-server's bind


@dataclass
class Node:
    data_dir: Path
    role: str  # "master", "replica" or "sentinel"; refreshed by the topology after a failover
    port: int
    bus_port: int | None = None  # a cluster node's cluster bus
    extra_args: tuple[str, ...] = ()
    config_file: Path | None = None
    server: RedisProcess | None = None
    _client: redis.Redis | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.server.process.pid if self.alive and self.server else None

    @property
    def alive(self) -> bool:
        return self.server is not None and self.server.process.poll() is None

    def start(self) -> None:
        self.server = start_redis(
            self.data_dir,
            self.port,
            appendonly=False,
            detach=True,  # and dies with the test process, even one killed with SIGKILL
            config_file=self.config_file,
            extra_args=(*self.extra_args, *_SYNC_AT_ONCE)
            if self.role != "sentinel"
            else self.extra_args,
        )

    def kill(self) -> None:
        """SIGKILL, as `kill -9` would: no shutdown, no goodbye to the cluster."""
        if self.server is not None and self.server.process.poll() is None:
            self.server.process.send_signal(signal.SIGKILL)
            self.server.process.wait()
        if self._client is not None:
            self._client.close()
            self._client = None

    def client(self) -> redis.Redis:
        """A plain client of this one node (no cluster redirections), with short timeouts."""
        if self._client is None:
            self._client = redis.Redis(
                port=self.port,
                decode_responses=True,
                socket_timeout=2,
                socket_connect_timeout=2,
            )
        return self._client

    def info_role(self) -> str | None:
        """ "master" or "replica" as the node says now; None when it does not answer."""
        try:
            role = str(self.client().info("replication")["role"])
        except redis.RedisError:
            return None
        return "replica" if role == "slave" else role

    def link_up(self) -> bool:
        """A master, or a replica whose link to its master is up."""
        try:
            replication = self.client().info("replication")
        except redis.RedisError:
            return False
        return bool(replication["role"] == "master" or replication["master_link_status"] == "up")


def start_fresh(
    data_dir: Path,
    role: str,
    *,
    cluster_ms: int | None = None,
    sentinel_lines: list[str] | None = None,
) -> Node:
    """A node started on free ports: a cluster node when `cluster_ms` (its node timeout) is
    given, a Sentinel when `sentinel_lines` (its configuration) are."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir.resolve()
    for attempt in range(ATTEMPTS):
        node = Node(data_dir, role, free_port())
        if cluster_ms is not None:
            node.bus_port = free_port()
            node.extra_args = _cluster_args(data_dir, cluster_ms, node.bus_port)
        if sentinel_lines is not None:
            node.config_file = data_dir / "sentinel.conf"
            node.config_file.write_text("\n".join(sentinel_lines) + "\n")
            node.extra_args = ("--sentinel",)
        try:
            node.start()
        except (RuntimeError, TimeoutError):
            if attempt == ATTEMPTS - 1:
                raise
            continue
        return node
    raise AssertionError("unreachable")


def _cluster_args(data_dir: Path, node_timeout_ms: int, bus_port: int) -> tuple[str, ...]:
    (data_dir / "nodes.conf").unlink(missing_ok=True)  # a retry starts from a blank node
    return (
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(data_dir / "nodes.conf"),
        "--cluster-node-timeout",
        str(node_timeout_ms),
        "--cluster-port",
        str(bus_port),
        # A replica may take over however long its link was down: tests kill at will.
        "--cluster-replica-validity-factor",
        "0",
    )
