"""Chaos tests get Redis servers of their own, to kill and restart them."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relayline.redis_server import RedisProcess, free_port, start_redis
from tests.support.stack import LIFTED_LIMITS, Stack

CHAOS_POOLS = Path(__file__).with_name("pools.toml")
FAST_RECOVERY = {
    "WORKER_LEASE_SECONDS": "2",
    "WORKER_REAPER_INTERVAL_SECONDS": "0.3",
    "WORKER_MAX_DELIVERIES": "3",
    "WORKER_SHUTDOWN_GRACE_SECONDS": "1",
}


@dataclass
class OwnRedis:
    """A redis-server on a fixed port and folder, so it can be restarted in place."""

    data_dir: Path
    port: int
    appendfsync: str | None
    server: RedisProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.server = start_redis(
            self.data_dir,
            self.port,
            appendonly=self.appendfsync is not None,
            appendfsync=self.appendfsync or "everysec",
        )

    def kill(self) -> None:
        assert self.server is not None
        self.server.kill()

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def own_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OwnRedis]:
    appendfsync = getattr(request, "param", None)
    server = OwnRedis(tmp_path / "redis", free_port(), appendfsync)
    server.start()
    try:
        yield server
    finally:
        if server.server:
            server.server.stop()


@pytest.fixture
def chaos_stack(own_redis: OwnRedis, tmp_path: Path) -> Iterator[Stack]:
    # Faults, not limits: clients fail over and resubscribe many times as one user.
    stack = Stack(own_redis.url, tmp_path, pools_file=CHAOS_POOLS, edge_env=LIFTED_LIMITS)
    try:
        yield stack
    finally:
        stack.close()
