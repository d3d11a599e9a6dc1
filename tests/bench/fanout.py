"""Token fan-out: many clients each following its own streaming job, and many clients
watching one job. Also samples the edge's resident memory while they run."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
from websockets.asyncio.client import ClientConnection

from tests.bench.machine import rss_mib
from tests.bench.stats import BenchFailure, Row, latency_rows, ms, percentile, rate
from tests.bench.wsclient import (
    Transcript,
    chat_request,
    open_ws,
    submit_and_follow,
    subscribe_and_follow,
)
from tests.support.metrics import metric
from tests.support.stack import Edge, auth

STREAM_POOL = "bench-stream"
PHASE_TIMEOUT = 120.0
COUNTERS = ("relayline_fanout_reads_total", "relayline_events_sent_total")
HANDSHAKES = 25
"""Submits/subscribes in flight at once (each until its job's first event arrives), so the
time to first token measures the stack rather than a burst queueing at the client."""


@contextlib.asynccontextmanager
async def connections(edge: Edge, count: int) -> AsyncIterator[list[ClientConnection]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(open_ws(edge)) for _ in range(count)]


class RssSampler:
    """The peak VmRSS of a process, sampled every `interval` until stopped."""

    def __init__(self, pid: int, interval: float = 0.1, max_samples: int = 3000) -> None:
        self.pid, self.interval, self.max_samples = pid, interval, max_samples
        self.peak = rss_mib(pid)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for _ in range(self.max_samples):
            self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task:
            self._task.cancel()
        self.peak = max(self.peak, rss_mib(self.pid))


async def _counters(edge: Edge) -> tuple[float, ...]:
    return tuple([await asyncio.to_thread(metric, edge, name) for name in COUNTERS])


def _span(transcript: Transcript, first: str, last: str) -> float:
    """Seconds between the first events of two types, by the events' own `ts`."""
    stamps: dict[str, float] = {}
    for event in transcript.events:
        stamps.setdefault(event["type"], float(event["ts"]))
    return stamps[last] - stamps[first]


def _rss(value: float) -> str:
    return f"{value:.1f} MiB"


async def _follow_all(
    conns: list[ClientConnection], tokens: int, job_id: str | None, sent_at: float
) -> list[Transcript]:
    gate = asyncio.Semaphore(HANDSHAKES)
    async with asyncio.timeout(PHASE_TIMEOUT), asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                submit_and_follow(conn, STREAM_POOL, tokens, gate)
                if job_id is None
                else subscribe_and_follow(conn, job_id, sent_at, gate)
            )
            for conn in conns
        ]
    transcripts = [task.result() for task in tasks]
    for transcript in transcripts:
        transcript.check()
    return transcripts


def _timing_rows(scenario: str, transcripts: list[Transcript], started: float) -> list[Row]:
    elapsed = max(t.ended_at for t in transcripts) - started
    events = sum(len(t.events) for t in transcripts)
    firsts = [at - t.sent_at for t in transcripts if (at := t.first_text_at()) is not None]
    gaps = [gap for t in transcripts for gap in t.gaps_after_first_text()]
    latencies = [t.latency for t in transcripts]
    nan = float("nan")
    return [
        (
            scenario,
            f"all {len(transcripts)} jobs started (last first event)",
            ms(max(t.times[0] for t in transcripts) - started),
        ),
        (scenario, "events delivered", f"{events:,} in {elapsed:.2f} s"),
        (scenario, "events delivered/s (all clients)", rate(events, elapsed, "events")),
        *latency_rows(scenario, "time to first token (submit → first text-delta)", firsts),
        (scenario, "time to first token max", ms(max(firsts, default=nan))),
        (scenario, "inter-event gap p50", ms(percentile(gaps, 50))),
        (scenario, "inter-event gap p99", ms(percentile(gaps, 99))),
        (scenario, "inter-event gap max", ms(max(gaps, default=nan))),
        *latency_rows(
            scenario,
            "event ts → arrival (worker write, Redis, edge, client)",
            [delay for t in transcripts for delay in t.delays()],
        ),
        *latency_rows(scenario, "submit → job-end", latencies),
        (scenario, "submit → job-end max", ms(max(latencies))),
        *latency_rows(
            scenario,
            "queue wait (job-queued → job-start, event ts)",
            [_span(t, "job-queued", "job-start") for t in transcripts],
        ),
        *latency_rows(
            scenario,
            "worker streaming time (first text-delta → job-end)",
            [_span(t, "text-delta", "job-end") for t in transcripts],
        ),
    ]


async def streams(edge: Edge, clients: int, tokens: int) -> list[Row]:
    """`clients` WebSockets each submit a `tokens`-token streaming job and follow it."""
    pid = edge.popen.pid
    scenario = f"3a. fan-out: {clients} WS clients, each following its own {tokens}-token job"
    idle = rss_mib(pid)
    opened = time.perf_counter()
    async with connections(edge, clients) as conns:
        connected, rss_open = time.perf_counter() - opened, rss_mib(pid)
        reads, sent = await _counters(edge)
        started = time.perf_counter()
        with RssSampler(pid) as sampler:
            transcripts = await _follow_all(conns, tokens, None, started)
        reads_after, sent_after = await _counters(edge)
    return [
        (scenario, f"open {clients} WebSockets", ms(connected)),
        *_timing_rows(scenario, transcripts, started),
        (scenario, "edge fan-out Redis reads", f"{reads_after - reads:,.0f}"),
        (scenario, "edge events sent (metric)", f"{sent_after - sent:,.0f}"),
        (scenario, "edge RSS idle (before connecting)", _rss(idle)),
        (scenario, f"edge RSS with {clients} idle WebSockets", _rss(rss_open)),
        (scenario, f"edge RSS peak during {clients} streams", _rss(sampler.peak)),
    ]


async def watchers(edge: Edge, clients: int, tokens: int) -> list[Row]:
    """`clients` WebSockets all follow ONE streaming job; every transcript must be equal."""
    pid = edge.popen.pid
    scenario = f"3b. fan-out: {clients} WS clients watching ONE {tokens}-token job"
    async with connections(edge, clients) as conns, httpx.AsyncClient(timeout=30) as http:
        reads, sent = await _counters(edge)
        started = time.perf_counter()
        response = await http.post(
            f"{edge.url}/v1/jobs", json=chat_request(STREAM_POOL, tokens), headers=auth()
        )
        if response.status_code != 202:
            raise BenchFailure(f"POST /v1/jobs answered {response.status_code}: {response.text}")
        with RssSampler(pid) as sampler:
            transcripts = await _follow_all(conns, tokens, response.json()["id"], started)
        reads_after, sent_after = await _counters(edge)
    reference = transcripts[0].events
    for transcript in transcripts:
        if transcript.events != reference:
            raise BenchFailure(f"job {transcript.job_id}: clients saw different transcripts")
    ends = [t.ended_at for t in transcripts]
    elapsed = max(ends) - started
    events = sum(len(t.events) for t in transcripts)
    return [
        (scenario, "events per transcript (all identical)", f"{len(reference)}"),
        (scenario, "events delivered/s (all clients)", rate(events, elapsed, "events")),
        (scenario, "job-end spread (first → last client)", ms(max(ends) - min(ends))),
        (scenario, "edge fan-out Redis reads", f"{reads_after - reads:,.0f}"),
        (scenario, "edge events sent (metric)", f"{sent_after - sent:,.0f}"),
        (scenario, f"edge RSS peak during {clients} watchers", _rss(sampler.peak)),
    ]
