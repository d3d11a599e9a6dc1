"""`make bench`: start Redis, one edge and two worker pools, run every phase, print the
table and rewrite this benchmark's section of docs/benchmarks.md. Exits non-zero (and
leaves the document alone) if any job fails or any transcript is incomplete."""

import asyncio
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import fanout, latency, storage
from tests.bench.machine import CpuMeter, machine_info, redis_pid
from tests.bench.report import DOC, render, write_section
from tests.bench.stats import Row
from tests.support.redis import redis_url
from tests.support.stack import LIFTED_LIMITS, Edge, Stack

POOLS = Path(__file__).with_name("pools.toml")
ZERO_WORKERS, ZERO_CONCURRENCY = 2, 16
# 4 x 64: 256 slots for 200 streams, spread over processes as a deployment would spread them.
STREAM_WORKERS, STREAM_CONCURRENCY = 4, 64
SETUP = (
    f"1 edge process; pool `bench-zero`: {ZERO_WORKERS} workers x concurrency "
    f"{ZERO_CONCURRENCY}; pool `bench-stream`: {STREAM_WORKERS} workers x concurrency "
    f"{STREAM_CONCURRENCY}; EDGE_MAX_ACTIVE_JOBS_PER_USER and the per-user rate and stream "
    "limits lifted (one client stands for many users); default settings otherwise "
    "(WORKER_COALESCE_MS=30)"
)

Cpu = dict[str, dict[str, float]]


@dataclass
class Bench:
    edge: Edge
    groups: dict[str, list[int]]
    stack: Stack


def start(stack: Stack, redis: int | None) -> Bench:
    # One synthetic user stands for many: its limits of unfinished jobs, requests and
    # streams are lifted.
    edge = stack.edge(env={"EDGE_MAX_ACTIVE_JOBS_PER_USER": "100000", **LIFTED_LIMITS})
    env = {"WORKER_CONCURRENCY": str(ZERO_CONCURRENCY)}
    zero = [stack.worker("bench-zero", env=env, wait=False) for _ in range(ZERO_WORKERS)]
    env = {"WORKER_CONCURRENCY": str(STREAM_CONCURRENCY)}
    stream = [stack.worker("bench-stream", env=env, wait=False) for _ in range(STREAM_WORKERS)]
    for worker in zero + stream:
        stack.wait_worker(worker)
    groups = {
        "edge": [edge.popen.pid],
        "bench-zero workers": [worker.popen.pid for worker in zero],
        "bench-stream workers": [worker.popen.pid for worker in stream],
        "redis": [redis] if redis else [],
        "bench client": [os.getpid()],
    }
    return Bench(edge, groups, stack)


def phases(bench: Bench) -> list[tuple[str, Callable[[], Awaitable[list[Row]]]]]:
    edge = bench.edge
    zero = f"{ZERO_WORKERS} workers x concurrency {ZERO_CONCURRENCY}"
    return [
        ("1. low load", lambda: latency.low_load(edge, jobs=200, tokens=4)),
        ("2. sustained", lambda: latency.sustained(edge, latency.Load(32, 20.0), zero)),
        ("3a. 200 streams", lambda: fanout.streams(edge, clients=200, tokens=100)),
        ("3b. 200 watchers of 1 job", lambda: fanout.watchers(edge, clients=200, tokens=100)),
        ("4. retained jobs", lambda: storage.retained(bench.stack)),
    ]


async def run(bench: Bench) -> tuple[list[Row], Cpu, Cpu]:
    """The rows, and per phase the CPU each group used and the time it waited for one."""
    rows: list[Row] = []
    cpu: Cpu = {}
    waited: Cpu = {}
    for name, phase in phases(bench):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        meter = CpuMeter(bench.groups)
        meter.start()
        rows += await phase()
        cpu[name] = meter.stop()
        waited[name] = meter.waited
    return rows, cpu, waited


def _failed(stack: Stack, exc: BaseException) -> int:
    traceback.print_exception(exc)
    for process in stack.processes:
        tail = "\n".join(process.log().splitlines()[-20:])
        print(f"--- {process.name} (last lines of its log)\n{tail}", file=sys.stderr)
    print(f"bench: FAILED; process logs kept in {stack.workdir}", file=sys.stderr)
    print("bench: docs/benchmarks.md left unchanged", file=sys.stderr)
    return 1


def main() -> int:
    began = time.monotonic()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    workdir = Path(tempfile.mkdtemp(prefix="relayline-bench-"))
    with redis_url() as url:
        stack = Stack(url, workdir, pools_file=POOLS)
        try:
            rows, cpu, waited = asyncio.run(run(start(stack, redis_pid(url))))
        except Exception as exc:
            return _failed(stack, exc)
        finally:
            stack.close()
        machine = machine_info(url)
    shutil.rmtree(workdir, ignore_errors=True)
    facts = {
        "Command": "`make bench` (`.venv/bin/python -m tests.bench`)",
        "Date": date,
        "Setup": SETUP,
        "Wall time of the run": f"{time.monotonic() - began:.0f} s",
    }
    body = render(machine, facts, rows, cpu, waited)
    print(body)
    write_section(body)
    print(f"bench: wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
