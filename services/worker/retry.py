"""Retrying a Redis call across a short outage (a restart, a dropped connection).

Only for calls that are safe to repeat: step-numbered appends, XACK.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")


async def with_retry(call: Callable[[], Awaitable[T]], seconds: float) -> T:
    deadline = time.monotonic() + seconds
    delay = 0.05
    while True:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            if time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
