from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis import redis_url
from tests.support.stack import Stack


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
