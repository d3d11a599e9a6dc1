"""Real processes for tests: edges (uvicorn) and workers (FastStream) on 127.0.0.1.

Every stack gets its own key prefix, so tests share one Redis server without seeing each
other. Processes are stopped (and their logs kept in the test's temp folder) at teardown.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import redis
from redis.cluster import ClusterNode, RedisCluster

from contracts.keys import Keys
from contracts.redis_url import Deployment, parse_redis_url
from relayline.redis_server import free_port
from tests.support.wait import wait_for

POOLS_FILE = Path(__file__).with_name("pools.toml")
API_KEYS = {"alice-key": "alice", "bob-key": "bob", "carol-key": "carol"}


LIFTED_LIMITS = {
    "EDGE_RATE_LIMIT_PER_SECOND": "1000000",
    "EDGE_RATE_LIMIT_BURST": "10000000",
    "EDGE_MAX_STREAMS_PER_USER": "1000000",
    "EDGE_MAX_STREAMS": "1000000",
    "EDGE_MAX_STORED_BYTES_PER_USER": str(1 << 50),
    "EDGE_GUEST_MAX_STORED_BYTES_PER_USER": str(1 << 50),
}
"""Edge settings for tests that are not about limits but make many requests or hold many
streams as one user (one test client stands for many users)."""

LIFTED_GUEST_LIMITS = {
    "EDGE_GUEST_IDS_BURST": "100000",
    "EDGE_GUEST_RATE_LIMIT_PER_SECOND": "1000000",
    "EDGE_GUEST_RATE_LIMIT_BURST": "10000000",
    "EDGE_GUEST_MAX_STREAMS_PER_USER": "1000000",
    "EDGE_GUEST_MAX_ACTIVE_JOBS_PER_USER": "10000000",
    "EDGE_GUEST_MAX_STORED_BYTES_PER_USER": str(1 << 50),
}
"""Edge settings for tests whose many guests all come from 127.0.0.1, so share one guest's
limits, where a real deployment's come from many addresses."""


def auth(user: str = "alice") -> dict[str, str]:
    key = next(key for key, name in API_KEYS.items() if name == user)
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
            self.popen.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Edge(Process):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"


@dataclass
class Worker(Process):
    worker_id: str = ""
    pool: str = ""


@dataclass
class Stack:
    redis_url: str
    workdir: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:12]}:")
    guest_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    pools_file: Path = POOLS_FILE
    processes: list[Process] = field(default_factory=list)
    edge_env: dict[str, str] = field(default_factory=dict)
    """Settings every edge of this stack gets (e.g. `LIFTED_LIMITS`); `edge(env=)` wins."""

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)  # the services' default shard count

    def redis(self) -> "redis.Redis":
        """A client of the stack's Redis (a Sentinel's master, when the URL names one)."""
        target = parse_redis_url(self.redis_url)
        if target.deployment is Deployment.SENTINEL:  # the master it names now
            host, port = target.hosts[0]
            with redis.Redis(host=host, port=port, decode_responses=True) as sentinel:
                address = sentinel.sentinel_get_master_addr_by_name(target.service_name)
            return redis.Redis(
                host=address[0], port=int(address[1]), db=target.db, decode_responses=True
            )
        if target.deployment is Deployment.CLUSTER:  # answers like one server's client
            nodes = [ClusterNode(host, port) for host, port in target.hosts]  # type: ignore[no-untyped-call]
            return cast(redis.Redis, RedisCluster(startup_nodes=nodes, decode_responses=True))
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("EDGE_", "WORKER_", "RELAYLINE_"))
        }
        env.update(
            REDIS_URL=self.redis_url,
            RELAYLINE_PREFIX=self.prefix,
            RELAYLINE_POOLS=str(self.pools_file),
            RELAYLINE_LOG_LEVEL="WARNING",
            EDGE_API_KEYS=",".join(f"{key}:{user}" for key, user in API_KEYS.items()),
            EDGE_GUEST_SECRET=self.guest_secret,
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            # A stopping worker hands its jobs back after 1 s, not 10 (tests set their own).
            WORKER_SHUTDOWN_GRACE_SECONDS="1",
        )
        env.update(extra or {})
        return env

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "relayline.cli", *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return popen, log_path

    def edge(self, env: dict[str, str] | None = None, port: int | None = None) -> Edge:
        port = port or free_port()
        name = f"edge-{port}"
        env = {**self.edge_env, **(env or {})}
        popen, log_path = self._spawn(name, ["edge", "--port", str(port)], self.env(env))
        edge = Edge(name, popen, log_path, port=port)
        self.processes.append(edge)
        wait_for(lambda: _ready(edge), timeout=30, what=f"{name} ready\n{edge.log()}")
        return edge

    def worker(
        self, pool: str = "sim", env: dict[str, str] | None = None, wait: bool = True
    ) -> Worker:
        worker_id = f"{pool}-{uuid.uuid4().hex[:8]}"
        extra = {"WORKER_WORKER_ID": worker_id, "WORKER_HEARTBEAT_SECONDS": "0.5", **(env or {})}
        popen, log_path = self._spawn(
            f"worker-{worker_id}", ["worker", "--pool", pool], self.env(extra)
        )
        worker = Worker(f"worker-{worker_id}", popen, log_path, worker_id=worker_id, pool=pool)
        self.processes.append(worker)
        if wait:
            self.wait_worker(worker)
        return worker

    def wait_worker(self, worker: Worker, timeout: float = 90) -> None:
        client = self.redis()

        def beating() -> bool:
            if not worker.alive():
                raise RuntimeError(f"{worker.name} exited:\n{worker.log()}")
            return client.zscore(self.keys.workers(worker.pool), worker.worker_id) is not None

        try:
            wait_for(beating, timeout=timeout, what=f"{worker.name} heartbeat")
        finally:
            client.close()

    def close(self, timeout: float = 15) -> None:
        """Stop every process at once (SIGTERM), and SIGKILL those not gone in `timeout`."""
        alive = [process for process in reversed(self.processes) if process.alive()]
        for process in alive:
            process.signal(signal.SIGCONT)
            process.popen.terminate()
        deadline = time.monotonic() + timeout
        for process in alive:
            try:
                process.popen.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                process.kill()


def _ready(edge: Edge) -> bool:
    if not edge.alive():
        raise RuntimeError(f"{edge.name} exited:\n{edge.log()}")
    try:
        with urllib.request.urlopen(f"{edge.url}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
