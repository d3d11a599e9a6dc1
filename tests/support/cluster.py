"""Forming a Redis Cluster from started nodes, and reading what each node believes.

Without `redis-cli --cluster create`: every master gets its own config epoch (no collision
dance), an even share of the 16384 slots (CLUSTER ADDSLOTSRANGE), then meets the first node;
replicas meet it too and CLUSTER REPLICATE their master once they know it. "Ready" means
every live node says `cluster_state:ok` and all of them hold the same view of who serves
which slots, and every replica's link to its master is up.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.crc import key_slot

from tests.support.wait import wait_for

SLOTS = 16384


def command(client: redis.Redis, *args: str | int) -> Any:
    """A raw command to one node (redis-py leaves `execute_command` untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Entry:
    """One line of CLUSTER NODES, without what only the speaker knows (myself, pings)."""

    node_id: str
    port: int
    master: bool
    master_id: str  # "-" for a master
    failed: bool
    slots: tuple[str, ...]


View = frozenset[Entry]


def slot_ranges(masters: int) -> list[tuple[int, int]]:
    """Slots 0..16383 split into `masters` contiguous, even ranges."""
    bounds = [SLOTS * index // masters for index in range(masters + 1)]
    return [(bounds[index], bounds[index + 1] - 1) for index in range(masters)]


def form_cluster(
    clients: Sequence[redis.Redis], bus_port: int, replica_of: Sequence[int | None]
) -> None:
    """Join the nodes behind `clients` into one cluster, meeting the first node on its cluster
    bus port `bus_port`. `replica_of[i]` is the index of the master node i replicates, None
    for a master."""
    masters = [index for index, master in enumerate(replica_of) if master is None]
    for epoch, (index, (first, last)) in enumerate(
        zip(masters, slot_ranges(len(masters)), strict=True), start=1
    ):
        command(clients[index], "CLUSTER", "SET-CONFIG-EPOCH", epoch)
        command(clients[index], "CLUSTER", "ADDSLOTSRANGE", first, last)
    seed_port = clients[0].connection_pool.connection_kwargs["port"]
    for client in clients[1:]:
        command(client, "CLUSTER", "MEET", "127.0.0.1", seed_port, bus_port)
    wait_for(lambda: all(_knows(client, len(clients)) for client in clients), what="MEET")
    ids = [str(command(client, "CLUSTER", "MYID")) for client in clients]
    for index, master in enumerate(replica_of):
        if master is not None:
            command(clients[index], "CLUSTER", "REPLICATE", ids[master])


def _knows(client: redis.Redis, count: int) -> bool:
    return len(view(client)) == count


def slot_map(client: redis.Redis) -> list[tuple[int, int, int]]:
    """(first slot, last slot, master's port) for every range, as one node sees it."""
    ranges = command(client, "CLUSTER", "SLOTS")
    return [(int(first), int(last), int(master[1])) for first, last, master, *_ in ranges]


def view(client: redis.Redis) -> View:
    """What one node believes about every node of the cluster."""
    text = str(command(client, "CLUSTER", "NODES"))
    return frozenset(_entry(line.split()) for line in text.splitlines() if line.strip())


def _entry(fields: list[str]) -> Entry:
    flags = set(fields[2].split(","))
    address = fields[1].split("@")[0]
    return Entry(
        node_id=fields[0],
        port=int(address.rsplit(":", 1)[1]),
        master="master" in flags,
        master_id=fields[3],
        failed="fail" in flags or "fail?" in flags,
        slots=tuple(fields[8:]),
    )


def settled(clients: Sequence[redis.Redis]) -> View | None:
    """The view every node shares when each says `cluster_state:ok` and all agree, every
    slot is served by a master not marked failed, and every replica's link is up; else None."""
    try:
        if not all(
            "cluster_state:ok" in str(command(client, "CLUSTER", "INFO")) for client in clients
        ):
            return None
        views = {view(client) for client in clients}
        replicas = [client for client in clients if client.info("replication")["role"] == "slave"]
        linked = all(
            client.info("replication")["master_link_status"] == "up" for client in replicas
        )
    except redis.RedisError:
        return None
    if len(views) != 1 or not linked:
        return None
    (shared,) = views
    served = sum(_count(entry.slots) for entry in shared if entry.master and not entry.failed)
    return shared if served == SLOTS else None


def _count(slots: tuple[str, ...]) -> int:
    total = 0
    for item in slots:
        if item.startswith("["):  # a slot being migrated: "[slot->-id]"
            continue
        first, _, last = item.partition("-")
        total += int(last or first) - int(first) + 1
    return total


def owner_port(client: redis.Redis, key: str) -> int:
    """The port of the master that serves `key`'s slot, as the node `client` sees it."""
    slot = key_slot(key.encode())
    for first, last, port in slot_map(client):
        if first <= slot <= last:
            return port
    raise AssertionError(f"no master serves slot {slot}")
