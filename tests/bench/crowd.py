"""A crowd of WebSocket clients spread over several processes, for fan-out capacity: one
Python process cannot read 30,000 events/s from 1,000 sockets on a small machine, so each
of `processes` children opens its share of the sockets and reads them, and the parent
only hands out job ids and gathers what the children saw.

A child opens its sockets, says so, waits for the job ids (socket i follows job i mod
jobs), subscribes every socket from seq 0 and says so once each has its job's first event
(so the parent can start the jobs' worker only then, and every event after is live), reads
each until `job-end` (checking the transcript: no gap, one end, succeeded) and sends back a
`Seen` per socket: the arrival time of every event after the first `text-delta`. Times
are `time.perf_counter()`, one clock for every process of the machine (CLOCK_MONOTONIC).
"""

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from tests.bench.stats import BenchFailure
from tests.bench.wsclient import Transcript, follow, open_ws, subscribe

CONNECT_AT_ONCE = 50
CROWD_TIMEOUT = 120.0


@dataclass
class Seen:
    """One socket's events from its first `text-delta` on: their arrival times."""

    job_id: str
    events: int
    times: list[float]


async def _open(url: str, count: int, stack: contextlib.AsyncExitStack) -> list[object]:
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one() -> object:
        async with gate:
            return await stack.enter_async_context(open_ws(url))

    return list(await asyncio.gather(*(one() for _ in range(count))))


def _seen(transcript: Transcript) -> Seen:
    transcript.check()
    first = transcript.first_text_at()
    if first is None:
        raise BenchFailure(f"job {transcript.job_id}: no text-delta")
    times = [at for at in transcript.times if at >= first]
    return Seen(transcript.job_id, len(transcript.events), times)


async def _child(url: str, sockets: int, pipe: Connection) -> None:
    async with contextlib.AsyncExitStack() as stack:
        connections = await _open(url, sockets, stack)
        pipe.send("open")
        job_ids: list[str] = await asyncio.to_thread(pipe.recv)
        started = time.perf_counter()
        async with asyncio.timeout(CROWD_TIMEOUT):
            transcripts = await asyncio.gather(
                *(
                    subscribe(connection, job_ids[i % len(job_ids)], started)  # type: ignore[arg-type]
                    for i, connection in enumerate(connections)
                )
            )
            pipe.send("subscribed")
            await asyncio.gather(
                *(
                    follow(connection, transcript)  # type: ignore[arg-type]
                    for connection, transcript in zip(connections, transcripts, strict=True)
                )
            )
        pipe.send([_seen(transcript) for transcript in transcripts])


def _run_child(url: str, sockets: int, pipe: Connection) -> None:
    try:
        asyncio.run(_child(url, sockets, pipe))
    except BaseException as exc:  # the parent raises it
        pipe.send(BenchFailure(f"a crowd process failed: {exc!r}"))


class Crowd:
    """`sockets` WebSockets of `processes` child processes; `with Crowd(...) as crowd`."""

    def __init__(self, url: str, sockets: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.children: list[multiprocessing.process.BaseProcess] = []
        for n in range(processes):
            share = sockets // processes + (1 if n < sockets % processes else 0)
            parent, child = context.Pipe()
            process = context.Process(target=_run_child, args=(url, share, child), daemon=True)
            self.pipes.append(parent)
            self.children.append(process)

    def _receive(self, pipe: Connection, timeout: float = CROWD_TIMEOUT) -> object:
        if not pipe.poll(timeout):
            raise BenchFailure("a crowd process did not answer in time")
        message = pipe.recv()
        if isinstance(message, BaseException):
            raise message
        return message

    def __enter__(self) -> "Crowd":
        for process in self.children:
            process.start()
        for pipe in self.pipes:
            self._receive(pipe)  # "open"
        return self

    def subscribe(self, job_ids: list[str]) -> None:
        """Every socket subscribes to its job (socket i of a process to job i mod jobs);
        returns once each has had its job's first event."""
        for pipe in self.pipes:
            pipe.send(job_ids)
        for pipe in self.pipes:
            self._receive(pipe)  # "subscribed"

    def results(self) -> list[Seen]:
        """What every socket saw; returns once every job ended everywhere."""
        seen: list[Seen] = []
        for pipe in self.pipes:
            seen += self._receive(pipe)  # type: ignore[arg-type]
        return seen

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.children if process.pid is not None]

    def __exit__(self, *_: object) -> None:
        for process in self.children:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
