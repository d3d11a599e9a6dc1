"""Latency at low load (one job at a time) and throughput under sustained load."""

import asyncio
import time
from dataclasses import dataclass

import httpx
from websockets.asyncio.client import ClientConnection

from tests.bench.stats import BenchFailure, Row, latency_rows, rate
from tests.bench.wsclient import (
    Transcript,
    chat_request,
    open_ws,
    submit_and_follow,
    subscribe_and_follow,
)
from tests.support.stack import Edge, auth

ZERO_POOL = "bench-zero"
JOB_TIMEOUT = 30.0


async def _http_then_ws(
    http: httpx.AsyncClient, connection: ClientConnection, edge: Edge, tokens: int
) -> Transcript:
    sent_at = time.perf_counter()
    response = await http.post(
        f"{edge.url}/v1/jobs", json=chat_request(ZERO_POOL, tokens), headers=auth()
    )
    if response.status_code != 202:
        raise BenchFailure(f"POST /v1/jobs answered {response.status_code}: {response.text}")
    return await subscribe_and_follow(connection, response.json()["id"], sent_at)


async def ws_submit_latencies(
    connection: ClientConnection, jobs: int, tokens: int, pool: str = ZERO_POOL
) -> list[float]:
    """`jobs` sequential WS submits, each followed to its `job-end`: the time of each."""
    latencies: list[float] = []
    for _ in range(jobs):
        async with asyncio.timeout(JOB_TIMEOUT):
            transcript = await submit_and_follow(connection, pool, tokens)
        transcript.check()
        latencies.append(transcript.latency)
    return latencies


async def low_load(edge: Edge, jobs: int, tokens: int) -> list[Row]:
    """`jobs` sequential jobs over HTTP POST + WS subscribe, then as many over WS submit."""
    http_latencies: list[float] = []
    async with httpx.AsyncClient(timeout=JOB_TIMEOUT) as http, open_ws(edge) as connection:
        for _ in range(jobs):
            async with asyncio.timeout(JOB_TIMEOUT):
                transcript = await _http_then_ws(http, connection, edge, tokens)
            transcript.check()
            http_latencies.append(transcript.latency)
        ws_latencies = await ws_submit_latencies(connection, jobs, tokens)
    scenario = f"1. low load: {jobs} sequential {tokens}-token jobs, 1 client"
    return [
        *latency_rows(scenario, "POST → job-end (WS subscribed after 202)", http_latencies),
        *latency_rows(scenario, "WS submit → job-end", ws_latencies),
    ]


@dataclass
class Load:
    clients: int
    seconds: float
    max_jobs_per_client: int = 100_000


async def _submitter(edge: Edge, load: Load, deadline: float, out: list[float]) -> None:
    async with open_ws(edge) as connection:
        for _ in range(load.max_jobs_per_client):
            if time.perf_counter() >= deadline:
                return
            async with asyncio.timeout(JOB_TIMEOUT):
                transcript = await submit_and_follow(connection, ZERO_POOL, 1)
            transcript.check()
            out.append(transcript.latency)


async def sustained(edge: Edge, load: Load, workers: str) -> list[Row]:
    """`load.clients` WebSockets each submit 1-token jobs back to back for `load.seconds`."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + load.seconds
    async with asyncio.TaskGroup() as group:
        for _ in range(load.clients):
            group.create_task(_submitter(edge, load, deadline, latencies))
    elapsed = time.perf_counter() - started
    scenario = (
        f"2. sustained: {load.clients} concurrent WS submitters, {load.seconds:.0f} s, "
        f"1-token jobs, {workers}"
    )
    return [
        (scenario, "jobs completed", f"{len(latencies):,}"),
        (scenario, "throughput", rate(len(latencies), elapsed, "jobs")),
        *latency_rows(scenario, "WS submit → job-end", latencies),
    ]
