"""A WebSocket client of the edge that timestamps every event it receives and checks that
each job's transcript is complete."""

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.bench.stats import BenchFailure
from tests.support.client import CHAT_INPUT
from tests.support.stack import Edge, auth

Event = dict[str, Any]
WALL_OFFSET = time.time() - time.perf_counter()
"""Adds to a `perf_counter()` time to give wall-clock time, comparable with an event's `ts`."""


@dataclass
class Transcript:
    """The events of one job as one client saw them, with the time each arrived."""

    job_id: str
    sent_at: float
    events: list[Event] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def ended_at(self) -> float:
        return self.times[-1]

    @property
    def latency(self) -> float:
        return self.ended_at - self.sent_at

    def arrived_at(self, event_type: str) -> float | None:
        """When the first event of `event_type` arrived (None: it never did)."""
        for event, at in zip(self.events, self.times, strict=True):
            if event["type"] == event_type:
                return at
        return None

    def delays(self) -> list[float]:
        """From the first `text-delta` on, each event's time from its `ts` (when the worker
        made it) to its arrival here."""
        first = self.first_text_at()
        pairs = zip(self.events, self.times, strict=True)
        return [at + WALL_OFFSET - e["ts"] for e, at in pairs if first is not None and at >= first]

    def first_text_at(self) -> float | None:
        return self.arrived_at("text-delta")

    def gaps_after_first_text(self) -> list[float]:
        first = next(
            (i for i, event in enumerate(self.events) if event["type"] == "text-delta"), None
        )
        if first is None:
            return []
        times = self.times[first:]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def check(self, after: int = 0) -> None:
        """Raise `BenchFailure` unless seqs run after+1..n without a gap, the job ends once,
        last, and it succeeded."""
        seqs = [event["seq"] for event in self.events]
        if seqs != list(range(after + 1, after + 1 + len(seqs))):
            raise BenchFailure(f"job {self.job_id}: seq gap or disorder: {seqs[:50]}")
        ends = [event for event in self.events if event["type"] == "job-end"]
        if len(ends) != 1 or self.events[-1]["type"] != "job-end":
            raise BenchFailure(f"job {self.job_id}: {len(ends)} job-end events, or not last")
        if ends[0].get("status") != "succeeded":
            raise BenchFailure(f"job {self.job_id} ended {ends[0].get('status')}: {ends[0]}")


def open_ws(edge: Edge | str) -> Any:
    """`connect(...)` to the edge's WebSocket (an `Edge`, or its `ws_url`) as alice; use with
    `async with` or `await`."""
    url = edge if isinstance(edge, str) else edge.ws_url
    return connect(url, additional_headers=auth(), open_timeout=30, max_size=2**22)


def chat_request(model: str, max_tokens: int) -> dict[str, Any]:
    return {"model": model, "input": CHAT_INPUT, "params": {"max_tokens": max_tokens}}


async def _recv(connection: ClientConnection) -> Event:
    message: Event = json.loads(await connection.recv())
    if message.get("type") == "error":
        raise BenchFailure(f"the edge answered an error: {message}")
    return message


async def _read(connection: ClientConnection, transcript: Transcript, first_only: bool) -> None:
    while not transcript.events or transcript.events[-1]["type"] != "job-end":
        message = await _recv(connection)
        if message.get("job_id") != transcript.job_id or "seq" not in message:
            continue
        transcript.times.append(time.perf_counter())
        transcript.events.append(message)
        if first_only:
            return


async def follow(connection: ClientConnection, transcript: Transcript) -> Transcript:
    """Read `transcript.job_id`'s events from a subscribed connection until `job-end`."""
    await _read(connection, transcript, first_only=False)
    return transcript


def _gate(gate: asyncio.Semaphore | None) -> contextlib.AbstractAsyncContextManager[object]:
    return gate if gate is not None else contextlib.nullcontext()


async def submit_and_follow(
    connection: ClientConnection, model: str, max_tokens: int, gate: asyncio.Semaphore | None = None
) -> Transcript:
    """Submit over the WebSocket (which subscribes too) and follow the job to its end.
    `gate` is held from the submit until the job's first event arrives."""
    ref = uuid.uuid4().hex[:12]
    request = chat_request(model, max_tokens)
    async with _gate(gate):
        sent_at = time.perf_counter()
        await connection.send(json.dumps({"type": "submit", "request": request, "ref": ref}))
        while True:
            message = await _recv(connection)
            if message.get("type") == "submitted" and message.get("ref") == ref:
                break
        transcript = Transcript(str(message["job_id"]), sent_at)
        await _read(connection, transcript, first_only=True)
    return await follow(connection, transcript)


async def subscribe_and_follow(
    connection: ClientConnection,
    job_id: str,
    sent_at: float,
    gate: asyncio.Semaphore | None = None,
) -> Transcript:
    """Subscribe from seq 0 and follow; `gate` is held until the first event arrives."""
    async with _gate(gate):
        transcript = await subscribe(connection, job_id, sent_at)
    return await follow(connection, transcript)


async def subscribe(connection: ClientConnection, job_id: str, sent_at: float) -> Transcript:
    """Subscribe from seq 0; returns once the job's first event arrived."""
    transcript = Transcript(job_id, sent_at)
    await connection.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": 0}))
    await _read(connection, transcript, first_only=True)
    return transcript
