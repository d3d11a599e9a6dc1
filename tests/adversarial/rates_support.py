"""Helpers of the connection and rate attacks: a victim that streams a job while an
attacker works, raw sockets, and the metrics of an edge."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from tests.support.client import assert_complete, submit, ws_connect, ws_events_until_end
from tests.support.stack import Edge, auth

VICTIM_DEADLINE = 60.0
"""Seconds the victim's job has to stream to its `job-end` (it needs ~2 s alone)."""


@contextlib.asynccontextmanager
async def victim_streaming(edge: Edge, user: str = "bob") -> AsyncIterator[None]:
    """A second user's job on the `slow` pool, followed over a WebSocket opened before the
    attack; the block runs once its first token arrived, and on exit the job must stream to
    `job-end` within `VICTIM_DEADLINE`."""
    job_id = submit(edge, model="slow", user=user, params={"max_tokens": 40})
    async with ws_connect(edge, user) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": 0}))
        first = await asyncio.wait_for(_until_delta(connection, job_id), VICTIM_DEADLINE)
        yield
        rest = await asyncio.wait_for(ws_events_until_end(connection, job_id), VICTIM_DEADLINE)
    events = first + rest
    assert_complete(events)
    assert events[-1]["status"] == "succeeded", events[-1]


async def _until_delta(connection: Any, job_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "text-delta":
        events += await ws_events_until_end(connection, job_id, limit=1)
    return events


async def closed_by_server(reader: asyncio.StreamReader, seconds: float) -> bool:
    """The server closed (or reset) this raw connection within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


async def hang_up_mid_body(port: int) -> None:
    """Alice's `POST /v1/jobs` whose client closes the connection before its body came."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
            f"{auth()['Authorization']}\r\nContent-Type: application/json\r\n"
            'Content-Length: 100\r\n\r\n{"model": '
        ).encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def bucket_at_least(redis: Any, bucket: str, tat_ms: float) -> bool:
    """Whether a request bucket's theoretical arrival time (unix ms, `contracts.gcra`) has
    reached `tat_ms`: each token taken moves it one interval on."""
    return float(redis.get(bucket) or 0) >= tat_ms
