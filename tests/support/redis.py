"""Real Redis servers for tests: `TEST_REDIS_URL` if set, else a testcontainers container
where a Docker engine runs, else a local `redis-server` binary on a free port."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from relayline.redis_server import start_redis


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    container = _container()
    if container is not None:
        try:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        finally:
            container.stop()
        return
    with tempfile.TemporaryDirectory(prefix="relayline-redis-") as data:
        server = start_redis(Path(data), appendonly=False)
        try:
            yield server.url
        finally:
            server.stop()


def _container() -> Any:
    """A started Redis container, or None where no Docker engine answers."""
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return None  # no engine to ask; the docker client would only fail slowly
    try:
        from docker.errors import DockerException
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        return None
    try:
        return RedisContainer("redis:7").start()
    except (DockerException, OSError, ConnectionError):
        return None
    except Exception as exc:  # testcontainers wraps engine errors in several types
        if "docker" in str(exc).lower():
            return None
        raise
