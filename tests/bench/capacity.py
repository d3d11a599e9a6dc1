"""`make bench`, capacity part: what one edge process and one worker process carry.

A. edge memory per idle WebSocket: the edge's RSS before and after 1,000 WebSockets are
   opened (each answered one `ping`, subscribed to nothing).
B. events/s one edge process delivers to 1,000 WebSocket clients: `JOBS` jobs, each
   watched by 1,000 / `JOBS` clients, streaming faster than the edge can send (a
   `text-delta` every 10 ms); the clients run in `CROWD_PROCESSES` processes
   (tests/bench/crowd.py).
C. concurrent 50 tokens/s streams one worker process carries (tests/bench/carry.py).

Writes the `capacity` section of docs/benchmarks.md; exits non-zero (and leaves the document
alone) if a job fails or a transcript is incomplete."""

import asyncio
import contextlib
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.bench import carry
from tests.bench.crowd import Crowd, Seen
from tests.bench.machine import MACHINE, CpuMeter, machine_info, redis_pid, rss_mib
from tests.bench.report import DOC, table, write_section
from tests.bench.stats import BenchFailure, Row
from tests.bench.wsclient import chat_request, open_ws
from tests.support.redis import redis_url
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth

POOLS = Path(__file__).with_name("pools.toml")
SOCKETS, JOBS, CROWD_PROCESSES = 1000, 10, 4
FANOUT_POOL, FANOUT_TOKENS = "bench-fanout", 100
WARM_UP = 50
EDGE_ENV = {"EDGE_MAX_ACTIVE_JOBS_PER_USER": "100000", **LIFTED_LIMITS}
HOW_TO_READ = f"""\
### How to read these numbers

A: the edge's resident memory grows by the sockets' share; {WARM_UP} sockets are opened and
closed first, so one-time allocations (imports, caches) are not counted. B: the clients
subscribe while the jobs are queued, then the jobs' worker starts, so every event is
delivered live; the {JOBS} jobs stream faster than the edge sends (a `text-delta` per
token, {FANOUT_TOKENS} tokens at 100 tokens/s with WORKER_COALESCE_MS=0: {SOCKETS} clients
x 100 events/s offered), so the delivered rate is the most the edge sends while it shares
the machine with the clients, Redis and the worker; "events per edge CPU-second" is the
rate it would reach with a core of its own. The rate counts every event after the first
`text-delta` arrived anywhere, until the last `job-end` arrived: each client's transcript
is checked complete (no gap, one `job-end`). C: the gaps are measured in Redis, not
through the edge. On a 2-core machine all of them are bound by the machine: compare runs
of one machine only."""


async def _ping(connection: Any) -> None:
    await connection.send('{"type":"ping"}')
    await connection.recv()


async def idle_memory(edge: Edge) -> list[Row]:
    scenario = f"A. edge memory: {SOCKETS} idle WebSockets"
    pid = edge.popen.pid
    async with contextlib.AsyncExitStack() as stack:
        warm = [await stack.enter_async_context(open_ws(edge)) for _ in range(WARM_UP)]
        await asyncio.gather(*(_ping(connection) for connection in warm))
    await asyncio.sleep(0.5)  # the edge lets the closed ones go
    before = rss_mib(pid)
    async with contextlib.AsyncExitStack() as stack:
        gate = asyncio.Semaphore(50)

        async def one() -> Any:
            async with gate:
                connection = await stack.enter_async_context(open_ws(edge))
                await _ping(connection)
                return connection

        await asyncio.gather(*(one() for _ in range(SOCKETS)))
        await asyncio.sleep(0.5)
        after = rss_mib(pid)
    per_socket = (after - before) * 1024 / SOCKETS
    return [
        (scenario, "edge RSS before", f"{before:.1f} MiB"),
        (scenario, f"edge RSS with {SOCKETS} idle WebSockets", f"{after:.1f} MiB"),
        (scenario, "edge memory per idle WebSocket", f"{per_socket:.1f} KiB"),
    ]


async def _submit(edge: Edge) -> list[str]:
    async with httpx.AsyncClient(timeout=30) as http:
        ids = []
        for _ in range(JOBS):
            response = await http.post(
                f"{edge.url}/v1/jobs", json=chat_request(FANOUT_POOL, FANOUT_TOKENS), headers=auth()
            )
            if response.status_code != 202:
                raise BenchFailure(f"POST /v1/jobs answered {response.status_code}")
            ids.append(response.json()["id"])
        return ids


def _delivery_rows(scenario: str, seen: list[Seen], edge_seconds: float) -> list[Row]:
    """`edge_seconds`: the edge's CPU time over the phase (the worker's start, then the
    jobs), nearly all of it spent delivering."""
    start = min(s.times[0] for s in seen)
    end = max(s.times[-1] for s in seen)
    events = sum(len(s.times) for s in seen)
    elapsed = end - start
    rate = events / elapsed
    return [
        (
            scenario,
            "events delivered (after the first text-delta)",
            f"{events:,} in {elapsed:.2f} s",
        ),
        (scenario, "events delivered/s (all clients)", f"{rate:,.0f} events/s"),
        (scenario, "edge CPU while delivering (% of one core)", f"{edge_seconds / elapsed:.0%}"),
        (scenario, "events per edge CPU-second", f"{events / max(edge_seconds, 1e-9):,.0f}"),
    ]


async def delivery(stack: Stack, edge: Edge) -> tuple[list[Row], dict[str, float]]:
    scenario = (
        f"B. one edge: {SOCKETS} WS clients ({CROWD_PROCESSES} processes), {JOBS} jobs x "
        f"{SOCKETS // JOBS} watchers"
    )
    env = {"WORKER_CONCURRENCY": str(JOBS), "WORKER_COALESCE_MS": "0"}
    job_ids = await _submit(edge)  # queued: no worker yet
    with Crowd(edge.ws_url, SOCKETS, CROWD_PROCESSES) as crowd:
        await asyncio.to_thread(crowd.subscribe, job_ids)
        worker = stack.worker(FANOUT_POOL, env=env)
        try:
            groups = {
                "edge": [edge.popen.pid],
                "worker": [worker.popen.pid],
                "redis": [pid] if (pid := redis_pid(stack.redis_url)) else [],
                "clients": crowd.pids,
            }
            meter, began = CpuMeter(groups), time.monotonic()
            meter.start()
            seen = await asyncio.to_thread(crowd.results)
            cpu = meter.stop()
            edge_seconds = cpu["edge"] / 100 * (time.monotonic() - began)
        finally:
            worker.stop()
    return _delivery_rows(scenario, seen, edge_seconds), cpu


def render(machine: dict[str, str], rows: list[Row], cpu: dict[str, float], date: str) -> str:
    lines = ["## Capacity: one edge, one worker", ""]
    facts = {
        "Command": "`make bench` (`.venv/bin/python -m tests.bench.capacity`)",
        "Date": date,
        **machine,
    }
    lines += [f"- **{name}**: {value}" for name, value in facts.items()]
    lines += ["", *table(["scenario", "metric", "value"], rows), ""]
    groups = [group for group in cpu if group != MACHINE]
    lines += ["CPU used during B (% of one core):", ""]
    lines += table([*groups, MACHINE], [[f"{cpu[group]:.0f}%" for group in [*groups, MACHINE]]])
    return "\n".join([*lines, "", HOW_TO_READ])


async def run(stack: Stack) -> tuple[list[Row], dict[str, float]]:
    edge = stack.edge(env=EDGE_ENV)
    print("bench: A. idle memory ...", file=sys.stderr, flush=True)
    rows = await idle_memory(edge)
    print("bench: B. delivery to 1,000 clients ...", file=sys.stderr, flush=True)
    delivered, cpu = await delivery(stack, edge)
    print("bench: C. worker capacity ...", file=sys.stderr, flush=True)
    return rows + delivered + await carry.capacity(stack, edge), cpu


def main() -> int:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with redis_url() as url, tempfile.TemporaryDirectory(prefix="relayline-bench-") as work:
        stack = Stack(url, Path(work), pools_file=POOLS)
        try:
            began = time.monotonic()
            rows, cpu = asyncio.run(run(stack))
            print(f"bench: capacity took {time.monotonic() - began:.0f} s", file=sys.stderr)
        except Exception as exc:
            traceback.print_exception(exc)
            print("bench: FAILED; docs/benchmarks.md left unchanged", file=sys.stderr)
            return 1
        finally:
            stack.close()
        machine = machine_info(url)
    body = render(machine, rows, cpu, date)
    print(body)
    write_section(body, name="capacity")
    print(f"bench: wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
