"""`make bench`, part 3: the same sustained load on one Redis server and on a 3-master Redis
Cluster, side by side in one run: jobs/s, latency, and Redis CPU per job (all of the
topology's server processes). Writes its section of docs/benchmarks.md; exits non-zero (and
leaves the document alone) if a job fails."""

import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from websockets.asyncio.client import connect

from tests.bench.machine import cpu_seconds, machine_info
from tests.bench.report import DOC, table, write_section
from tests.bench.stats import Row, latency_rows, rate
from tests.bench.wsclient import submit_and_follow
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth
from tests.support.topology import Topology, start_topology

POOLS = Path(__file__).with_name("pools.toml")
POOL = "bench-zero"
USERS = ("alice", "bob", "carol")  # their shards lie on the Cluster's three masters
SUBMITTERS_PER_USER = 8
SECONDS = 15.0
WORKERS, CONCURRENCY = 2, 16
JOB_TIMEOUT = 30.0
HOW_TO_READ = """Every process runs on the one machine above, the three Cluster masters
included, so the Cluster cannot be faster here: it shows what sharding costs (Redis CPU per
job, latency), not what more machines would give. On a Cluster each master carries its
shards' share of that CPU."""
SETUP = (
    f"per topology: 1 edge, pool `{POOL}` with {WORKERS} workers x concurrency {CONCURRENCY}; "
    f"{len(USERS) * SUBMITTERS_PER_USER} WebSockets ({SUBMITTERS_PER_USER} for each of "
    f"{len(USERS)} users, whose shards lie on different Cluster masters) submit 1-token jobs "
    f"back to back for {SECONDS:.0f} s; Redis CPU is every server process of the topology"
)


async def _submitter(edge: Edge, user: str, deadline: float, out: list[float]) -> None:
    async with connect(edge.ws_url, additional_headers=auth(user), open_timeout=30) as ws:
        while time.perf_counter() < deadline:
            async with asyncio.timeout(JOB_TIMEOUT):
                transcript = await submit_and_follow(ws, POOL, 1)
            transcript.check()
            out.append(transcript.latency)


async def _load(edge: Edge) -> tuple[list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + SECONDS
    async with asyncio.TaskGroup() as group:
        for user in USERS:
            for _ in range(SUBMITTERS_PER_USER):
                group.create_task(_submitter(edge, user, deadline, latencies))
    return latencies, time.perf_counter() - started


def measure(topology: Topology, workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(topology.url, workdir, pools_file=POOLS)
    try:
        edge = stack.edge(env={"EDGE_MAX_ACTIVE_JOBS_PER_USER": "100000", **LIFTED_LIMITS})
        env = {"WORKER_CONCURRENCY": str(CONCURRENCY)}
        for worker in [stack.worker(POOL, env=env, wait=False) for _ in range(WORKERS)]:
            stack.wait_worker(worker)
        servers = [node.pid for node in topology.nodes if node.pid is not None]
        cpu_before = sum(cpu_seconds(pid) for pid in servers)
        latencies, elapsed = asyncio.run(_load(edge))
        redis_cpu = sum(cpu_seconds(pid) for pid in servers) - cpu_before
    finally:
        stack.close()
    masters = len(topology.masters)
    scenario = f"{topology.kind} ({masters} master{'s' if masters > 1 else ''})"
    return [
        (scenario, "jobs completed", f"{len(latencies):,}"),
        (scenario, "throughput", rate(len(latencies), elapsed, "jobs")),
        *latency_rows(scenario, "WS submit → job-end", latencies),
        (scenario, "Redis CPU per job", f"{1e6 * redis_cpu / max(len(latencies), 1):.0f} µs"),
        (scenario, "Redis CPU (all servers)", f"{100 * redis_cpu / elapsed:.0f}% of one core"),
    ]


def main() -> int:
    began = time.monotonic()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    workdir = Path(tempfile.mkdtemp(prefix="relayline-bench-topologies-"))
    rows: list[Row] = []
    machine: dict[str, str] = {}
    try:
        for kind in ("standalone", "cluster"):
            print(f"bench: {kind} ...", file=sys.stderr, flush=True)
            with start_topology(kind) as topology:
                rows += measure(topology, workdir / kind)
                machine = machine or machine_info(topology.url)
    except Exception as exc:
        print(f"bench: FAILED ({exc!r}); logs in {workdir}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    facts = {
        "Command": "`make bench` (`.venv/bin/python -m tests.bench.topologies`)",
        "Date": date,
        "Setup": SETUP,
        "Wall time of the run": f"{time.monotonic() - began:.0f} s",
    }
    lines = ["## One Redis server and a 3-master Cluster", ""]
    lines += [f"- **{name}**: {value}" for name, value in {**facts, **machine}.items()]
    lines += ["", *table(["topology", "metric", "value"], rows), "", HOW_TO_READ]
    body = "\n".join(lines)
    print(body)
    write_section(body, name="topologies")
    print(f"bench: wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
