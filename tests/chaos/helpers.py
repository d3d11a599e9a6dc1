"""What chaos tests share: submitting, a supervisor that restarts killed workers, waits."""

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from tests.chaos.conftest import FAST_RECOVERY
from tests.support.stack import Edge, Stack, Worker, auth
from tests.support.wait import async_wait_for


def submit(edge: Edge, model: str, prompt: str = "go", **params: Any) -> str:
    body = {
        "model": model,
        "input": {"messages": [{"role": "user", "content": prompt}]},
        "params": params,
    }
    response = httpx.post(f"{edge.url}/v1/jobs", json=body, headers=auth(), timeout=30)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def worker(stack: Stack, pool: str, **env: str) -> Worker:
    return stack.worker(pool, env={**FAST_RECOVERY, **env})


@contextlib.contextmanager
def supervisor(stack: Stack, pool: str, count: int, **env: str) -> Iterator[list[Worker]]:
    """Keeps `count` workers of a pool running, restarting any that dies, as a process
    manager (systemd, compose `restart:`) would."""
    workers = [worker(stack, pool, **env) for _ in range(count)]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            for index, current in enumerate(workers):
                if not current.alive():
                    workers[index] = stack.worker(pool, env={**FAST_RECOVERY, **env}, wait=False)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield workers
    finally:
        stop.set()
        thread.join()


async def events_seen(transcript_events: list[dict[str, Any]], kind: str, count: int) -> None:
    """Wait (60 s at most) until a follower has seen `count` events of a kind."""

    async def seen() -> bool:
        return sum(1 for event in transcript_events if event["type"] == kind) >= count

    await async_wait_for(seen, timeout=60, what=f"{count} {kind} events")
