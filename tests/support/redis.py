"""Real Redis servers for tests: `TEST_REDIS_URL` if set, else a testcontainers container
where a Docker engine runs, else a local `redis-server` binary on a free port."""

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from relayline.redis_server import start_redis


class CountingRedis(Redis):
    """An asyncio client of a real server that counts the commands it sends on its own, by
    name (`calls["GET"]`), and the pipelines it opens (`calls["pipeline"]`); a pipeline's
    commands are not counted one by one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls[str(args[0]).upper()] += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["pipeline"] += 1
        return super().pipeline(*args, **kwargs)


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
