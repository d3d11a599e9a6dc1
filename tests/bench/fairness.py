"""`make bench`, part 4: the cost of fairness. The same offered load (100 WebSockets that
submit 1-token jobs back to back), first as one user and then as 100 users, served by the
fair queues of this checkout and by first come, first served (commit 83fbe23, the last
before the fair queues: a submit appended the job straight to its shard's job stream), on
one Redis server in one run: jobs/s, submit → start latency and Redis CPU per job.

The old code runs from `git archive` of its commit (tests/bench/versions.py); each version's
imports and Redis keys are checked. Writes its section of docs/benchmarks.md; exits non-zero
(and leaves the document alone) if a job fails or a version is not the code it claims to be."""

import asyncio
import contextlib
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from tests.bench.machine import cpu_seconds, machine_info
from tests.bench.report import publish, table
from tests.bench.stats import BenchFailure, ms, percentile
from tests.bench.versions import Code, check_imports, checkout, old_commit
from tests.bench.wsclient import Transcript, submit_and_follow
from tests.support.stack import LIFTED_LIMITS, Edge, Stack
from tests.support.topology import start_topology

FIFO_COMMIT = "83fbe23"
POOLS = Path(__file__).with_name("pools.toml")
POOL = "bench-zero"
SUBMITTERS = 100
SECONDS = 10.0
WORKERS, CONCURRENCY = 2, 16
JOB_TIMEOUT = 30.0
API_KEYS = {f"bench-key-{n:03d}": f"user-{n:03d}" for n in range(SUBMITTERS)}
LOADS = {"1 user": [next(iter(API_KEYS))] * SUBMITTERS, f"{SUBMITTERS} users": list(API_KEYS)}
"""Each load's API key per WebSocket."""
EDGE_ENV = {
    "EDGE_API_KEYS": ",".join(f"{key}:{user}" for key, user in API_KEYS.items()),
    "EDGE_MAX_ACTIVE_JOBS_PER_USER": "100000",
    **LIFTED_LIMITS,
}
SETUP = (
    f"one Redis server; per version: 1 edge, pool `{POOL}` with {WORKERS} workers x "
    f"concurrency {CONCURRENCY}; per load: {SUBMITTERS} WebSockets submit 1-token jobs back "
    f"to back for {SECONDS:.0f} s, all as one user, then each as its own user (weight 1); "
    "per-user limits lifted. **fair**: this checkout; **FIFO**: commit "
    f"{FIFO_COMMIT}, the last before the fair queues (a submit appended the job to its "
    "shard's job stream), run from `git archive`"
)
HOW_TO_READ = """\
### How to read these numbers

The engine does no work (`bench-zero`), so jobs/s is the stack's own rate: the edge, Redis
and the workers, all on this machine with the 100 clients. Each client keeps one job in
flight against 32 worker slots, so jobs wait, and submit → start is mostly that wait; in this
closed loop a job's submit → end is about 100 / jobs/s (Little's law), so latency follows
throughput. The fair version pays for its queue on every job: SUBMIT puts the job in its
pool's per-shard sorted set, a worker's TAKE moves it into the job stream, and workers choose
between shards; FIFO appended the job to the stream at submit. With one user the fair queue
has nothing to reorder, so the ratios show that bookkeeping alone; with 100 users (one job
in flight each, all of weight 1) the order hardly changes either, but the jobs spread over
the 8 shards' queues. A jobs/s ratio below 1, or a latency ratio above 1, is the cost of
fairness; what it buys (a user's job is not stuck behind another's backlog) is shown by
tests/integration/test_fairness.py, not here. The versions run one after the other on the
same Redis server, FIFO first. Numbers vary by 10-20% between runs: compare the ratios of
one run on a quiet machine."""


@dataclass
class Measured:
    transcripts: list[Transcript]
    elapsed: float
    redis_cpu: float

    @property
    def jobs_per_second(self) -> float:
        return len(self.transcripts) / self.elapsed

    def since_sent(self, event_type: str) -> list[float]:
        """Each job's time from its submit to the arrival of its first `event_type`."""
        times = []
        for transcript in self.transcripts:
            at = transcript.arrived_at(event_type)
            if at is None:
                raise BenchFailure(f"job {transcript.job_id}: no {event_type} event")
            times.append(at - transcript.sent_at)
        return times


Results = dict[str, dict[str, Measured]]
"""By version name, then by load."""


def check_queues(stack: Stack, code: Code, fair_queues: bool) -> None:
    """The fair queues' SUBMIT bumps its queue's ready stream; FIFO's submit wrote none."""
    keys = stack.keys
    client = stack.redis()
    try:
        bumped = sum(client.exists(keys.ready(POOL, shard)) for shard in range(keys.shards))
    finally:
        client.close()
    if (bumped > 0) != fair_queues:
        raise BenchFailure(f"{code.name}: {bumped} ready streams of fair queues in Redis")


async def _submitter(connection: ClientConnection, deadline: float, out: list[Transcript]) -> None:
    while time.perf_counter() < deadline:
        async with asyncio.timeout(JOB_TIMEOUT):
            transcript = await submit_and_follow(connection, POOL, 1)
        transcript.check()
        out.append(transcript)


async def _load(edge: Edge, keys: list[str], redis_pid: int) -> Measured:
    """Open every WebSocket first, then submit from all of them for `SECONDS`."""
    async with contextlib.AsyncExitStack() as sockets:
        connections = [
            await sockets.enter_async_context(
                connect(
                    edge.ws_url,
                    additional_headers={"Authorization": f"Bearer {key}"},
                    open_timeout=30,
                )
            )
            for key in keys
        ]
        transcripts: list[Transcript] = []
        cpu_before = cpu_seconds(redis_pid)
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for connection in connections:
                group.create_task(_submitter(connection, started + SECONDS, transcripts))
        elapsed = time.perf_counter() - started
        return Measured(transcripts, elapsed, cpu_seconds(redis_pid) - cpu_before)


def measure(
    code: Code, fair_queues: bool, redis_url: str, redis_pid: int, workdir: Path
) -> dict[str, Measured]:
    """Start `code`'s edge and workers, run every load on them, stop them."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(redis_url, workdir, pools_file=POOLS)
    try:
        check_imports(stack, code)
        edge = stack.edge(env={**EDGE_ENV, **code.env()})
        env = {"WORKER_CONCURRENCY": str(CONCURRENCY), **code.env()}
        for worker in [stack.worker(POOL, env=env, wait=False) for _ in range(WORKERS)]:
            stack.wait_worker(worker)
        measured = {}
        for load, keys in LOADS.items():
            print(f"bench: {code.name}, {load} ...", file=sys.stderr, flush=True)
            measured[load] = asyncio.run(_load(edge, keys, redis_pid))
        check_queues(stack, code, fair_queues)
    finally:
        stack.close()
    return measured


def run(workdir: Path) -> tuple[Results, dict[str, str]]:
    versions = [(old_commit("FIFO", FIFO_COMMIT, workdir / "fifo-tree"), False)]
    versions.append((checkout("fair"), True))
    with start_topology("standalone") as topology:
        (server,) = topology.nodes
        if server.pid is None:
            raise BenchFailure("the Redis server has no process id")
        results = {
            code.name: measure(code, queues, topology.url, server.pid, workdir / code.name)
            for code, queues in versions
        }
        return results, machine_info(topology.url)


def _row(load: str, version: str, measured: Measured) -> list[str]:
    starts, ends = measured.since_sent("job-start"), measured.since_sent("job-end")
    jobs = len(measured.transcripts)
    return [
        load,
        version,
        f"{jobs:,}",
        f"{measured.jobs_per_second:,.0f}",
        *(ms(percentile(starts, q)) for q in (50, 90, 99)),
        ms(percentile(ends, 50)),
        f"{1e6 * measured.redis_cpu / max(jobs, 1):.0f} µs",
    ]


def _ratio(load: str, fair: Measured, fifo: Measured) -> list[str]:
    start_p50 = [percentile(m.since_sent("job-start"), 50) for m in (fair, fifo)]
    return [
        load,
        f"{fair.jobs_per_second / fifo.jobs_per_second:.2f}",
        f"{start_p50[0] / start_p50[1]:.2f}",
    ]


def render(results: Results, facts: Mapping[str, str]) -> str:
    rows = [_row(load, code, results[code][load]) for load in LOADS for code in ("FIFO", "fair")]
    ratios = [_ratio(load, results["fair"][load], results["FIFO"][load]) for load in LOADS]
    header = ["load", "version", "jobs completed", "jobs/s", "submit → start p50", "p90"]
    header += ["p99", "submit → end p50", "Redis CPU per job"]
    lines = ["## The cost of fairness: fair queues against first come, first served", ""]
    lines += [f"- **{name}**: {value}" for name, value in facts.items()]
    lines += ["", *table(header, rows), "", "Fair over FIFO, the same load:", ""]
    lines += [*table(["load", "jobs/s", "submit → start p50"], ratios), "", HOW_TO_READ]
    return "\n".join(lines)


def main() -> int:
    began = time.monotonic()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def produce(workdir: Path) -> str:
        results, machine = run(workdir)
        facts = {
            "Command": "`make bench` (`.venv/bin/python -m tests.bench.fairness`)",
            "Date": date,
            "Setup": SETUP,
            "Wall time of the run": f"{time.monotonic() - began:.0f} s",
            **machine,
        }
        return render(results, facts)

    return publish("fairness", produce)


if __name__ == "__main__":
    sys.exit(main())
