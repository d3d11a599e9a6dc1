"""Following one job's events from inside the edge: SSE and the OpenAI routes read the log
through the process's fan-out hub like any other client."""

import asyncio
from collections.abc import AsyncIterator

from edge.deps import EdgeState
from edge.fanout import LOST, Outbox, is_end
from edge.metrics import SLOW_CLIENTS

IDLE = (0, "")
"""Yielded when nothing arrived for `idle_seconds`: a chance to send a keepalive."""


async def follow(
    state: EdgeState, job_id: str, after: int = 0, idle_seconds: float | None = None
) -> AsyncIterator[tuple[int, str]]:
    """(seq, event JSON) of every event after `after`, ending with `job-end`, or with
    (`LOST`, error JSON) if the subscription failed (the job vanished, its log expired);
    ends early if the consumer falls a whole queue behind."""
    hub, settings = state.hub, state.settings
    outbox = Outbox(
        settings.client_queue_size, settings.client_queue_bytes, on_overflow=SLOW_CLIENTS.inc
    )
    hub.subscribe(outbox, job_id, after)
    last = after
    try:
        while not outbox.overflowed:
            try:
                async with asyncio.timeout(idle_seconds):
                    _, seq, data = await outbox.get()
            except TimeoutError:
                yield IDLE
                continue
            if seq == LOST:
                yield seq, data
                return
            if seq <= last:
                continue
            last = seq
            yield seq, data
            if is_end(data):
                return
    finally:
        hub.drop(outbox)
