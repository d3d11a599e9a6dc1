"""`make bench`, part 5: Relayline's overhead against what it is built on (issue 12), each
measure next to its baseline from the same run on the same machine (what each measures
exactly: tests/bench/overhead_report.py):

1. worker drain: one `relayline worker` drains a backlog of no-op jobs, against a bare
   FastStream subscriber draining as many stream entries;
2. edge accept: `wrk` POSTs a small job to `/v1/jobs` of one edge, against a do-nothing
   FastAPI endpoint on the same uvicorn; and the same against this checkout's submit alone,
   without the edge's framework and middleware (tests/bench/bare_submit.py), the most the
   edge could reach;
3. WS submit → `job-end` p50, unloaded, against a hand-written Redis Streams round trip.

`--before COMMIT` (`make bench BENCH_BEFORE=COMMIT`) measures that commit's services too (from
`git archive`, tests/bench/versions.py) against the same baselines.

The round trips of the baseline and of every version run at once, taking turns job by job.
The drain and the accept run in `ROUNDS` rounds, each measuring the baselines and every
version one after the other (each round in another order), and each of their ratios is the
median of the rounds' own ratios. Either way a machine whose speed moves within minutes moves
a baseline with its versions, instead of one column against another. Its processes are driven
through the fixed interface (HTTP, WebSocket, `relayline edge|worker`), but the drain's end
is read from the pool's stats key as this checkout names it (`Keys.pool_stats`): a commit
with other key names cannot be measured so. Writes its section of docs/benchmarks.md; exits
non-zero (and leaves the document alone) if anything fails."""

import asyncio
import contextlib
import itertools
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

from contracts.keys import Keys
from relayline.redis_server import free_port
from tests.bench import baselines, wrk
from tests.bench.drain import Drained, ended_jobs, follow, queue_through_edge
from tests.bench.latency import ws_submit_latencies
from tests.bench.machine import cpu_seconds, machine_info, redis_pid
from tests.bench.overhead_report import (
    BASELINE,
    Accepted,
    Figures,
    Round,
    RoundTrips,
    render,
)
from tests.bench.report import publish
from tests.bench.versions import ROOT, Code, Comparison, check_imports
from tests.bench.wsclient import chat_request, open_ws
from tests.support.queue import owner_in
from tests.support.redis import redis_url
from tests.support.stack import API_KEYS, LIFTED_LIMITS, Edge, Process, Stack, auth
from tests.support.wait import wait_for

POOLS = Path(__file__).with_name("pools.toml")
DRAIN_POOL, ACCEPT_POOL, ZERO_POOL = "bench-drain", "bench-accept", "bench-zero"
DRAIN_JOBS, CONCURRENCY, TOKENS, LOW_LOAD_JOBS = 4000, 32, 4, 200
"""CONCURRENCY is `bench-drain`'s in tests/bench/pools.toml, given to the baseline too."""
LOAD = wrk.Load(connections=64, seconds=10)
ROUNDS = 3
Turn = Callable[[], Awaitable[float]]
"""One round trip of one party, timed."""


def _drain_keys(keys: Keys) -> dict[str, str]:
    """An API key and user per shard, so the drain's backlog spans every shard."""
    return {f"drain-key-{shard}": owner_in(keys, shard) for shard in range(keys.shards)}


def _edge_env(stack: Stack, code: Code) -> dict[str, str]:
    """Limits lifted as tests/bench/__main__.py does, and a queue cap out of reach."""
    users = {**API_KEYS, **_drain_keys(stack.keys)}
    return {
        "EDGE_API_KEYS": ",".join(f"{key}:{user}" for key, user in users.items()),
        "EDGE_MAX_ACTIVE_JOBS_PER_USER": "10000000",
        "EDGE_MAX_QUEUED_PER_POOL": "10000000",
        **LIFTED_LIMITS,
        **code.env(),
    }


def _accept(url: str, pid: int) -> Accepted:
    """wrk against `url`'s `/v1/jobs`, and the CPU the server process `pid` used meanwhile."""
    cpu = cpu_seconds(pid)
    answered = wrk.post(f"{url}/v1/jobs", chat_request(ACCEPT_POOL, TOKENS), auth(), LOAD)
    return Accepted(answered, cpu_seconds(pid) - cpu)


async def _drain(stack: Stack, code: Code, edge: Edge) -> Drained:
    """Queue the backlog through the edge while no worker of its pool runs, then start one."""
    await queue_through_edge(edge, DRAIN_POOL, list(_drain_keys(stack.keys)), DRAIN_JOBS, TOKENS)
    worker = stack.worker(DRAIN_POOL, env=code.env(), wait=False)
    redis = Redis.from_url(stack.redis_url)
    try:
        done = partial(ended_jobs, redis, stack.keys, DRAIN_POOL)
        return await follow(worker, done, DRAIN_JOBS, redis_pid(stack.redis_url))
    finally:
        await redis.aclose()
        worker.stop()


def relayline(code: Code, url: str, workdir: Path) -> Figures:
    """`code`'s edge accept and worker drain, with its own edge and worker on the Redis at
    `url`."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(url, workdir, pools_file=POOLS)
    try:
        check_imports(stack, code)
        edge = stack.edge(env=_edge_env(stack, code))
        _progress(f"{code.name}: edge accept")
        accepted = _accept(edge.url, edge.popen.pid)
        bare = None
        if code.tree == ROOT:  # its module imports this checkout's edge
            _progress(f"{code.name}: the submit alone")
            bare = _bare_accept(stack, code, workdir)
        _progress(f"{code.name}: worker drain")
        drained = asyncio.run(_drain(stack, code, edge))
    finally:
        stack.close()
        asyncio.run(_delete(url, f"{stack.prefix}*"))
    return Figures(drained, accepted, bare)


def _bare_accept(stack: Stack, code: Code, workdir: Path) -> Accepted:
    """The accept of tests/bench/bare_submit.py, with the edge's settings on `stack`."""
    port = free_port()
    env = stack.env(_edge_env(stack, code))
    module = "tests.bench.bare_submit"
    return _served_accept(
        baselines.spawn_module("bare submit", module, [str(port)], workdir, env), port
    )


async def _ws_round_trip(connection: ClientConnection) -> float:
    (latency,) = await ws_submit_latencies(connection, 1, TOKENS, ZERO_POOL)
    return latency


async def _taking_turns(parties: dict[str, Turn], count: int) -> RoundTrips:
    """`count` round trips of each party, one at a time: each party's first, then each
    one's second..., every other turn in reverse order. One not counted first."""
    for turn in parties.values():
        await turn()
    times: RoundTrips = {name: [] for name in parties}
    names = list(parties)
    for n in range(count):
        for name in names if n % 2 == 0 else names[::-1]:
            times[name].append(await parties[name]())
    return times


async def _round_trips(url: str, codes: list[Code], workdir: Path) -> RoundTrips:
    """The hand-written round trip and every version's WS submit → `job-end`, all running
    at once and taking turns job by job (each version with its own edge and worker)."""
    stream = f"bench-baseline-{uuid.uuid4().hex[:12]}:echo"
    replies = itertools.count()
    redis = Redis.from_url(url)
    echo: Process | None = None
    stacks: list[Stack] = []
    try:
        parties: dict[str, Turn] = {
            BASELINE: lambda: baselines.round_trip(redis, stream, f"{stream}:{next(replies)}")
        }
        async with contextlib.AsyncExitStack() as connections:
            for n, code in enumerate(codes):
                (where := workdir / f"round-trips-{n}").mkdir(parents=True, exist_ok=True)
                stack = Stack(url, where, pools_file=POOLS)
                stacks.append(stack)
                check_imports(stack, code)
                edge = stack.edge(env=_edge_env(stack, code))
                stack.worker(ZERO_POOL, env=code.env())
                connection = await connections.enter_async_context(open_ws(edge))
                parties[code.name] = partial(_ws_round_trip, connection)
            # started last: its blocking read must not sit idle past redis-py's socket
            # timeout while the versions start
            echo = baselines.spawn("echo", [url, stream], workdir)
            return await _taking_turns(parties, LOW_LOAD_JOBS)
    finally:
        if echo is not None:
            echo.stop()
        for stack in stacks:
            stack.close()
        await redis.aclose()
        for pattern in (f"{stream}*", *(f"{stack.prefix}*" for stack in stacks)):
            await _delete(url, pattern)


async def _delete(url: str, pattern: str) -> None:
    """A version's keys, gone once it is measured: the next one starts on a Redis as empty
    as this one did (the accept's backlog alone is some 10,000 jobs)."""
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(pattern, count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.unlink(*keys[start : start + 1000])
    finally:
        await redis.aclose()


def _listening(server: Process, port: int) -> bool:
    if not server.alive():
        raise RuntimeError(f"{server.name} exited:\n{server.log()}")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _baseline_accept(workdir: Path) -> Accepted:
    port = free_port()
    return _served_accept(baselines.spawn("http", [str(port)], workdir), port)


def _served_accept(server: Process, port: int) -> Accepted:
    """The accept of `server` once it listens on `port`; the server stopped after."""
    try:
        wait_for(lambda: _listening(server, port), timeout=30, what=f"{server.name} listening")
        return _accept(f"http://127.0.0.1:{port}", server.popen.pid)
    finally:
        server.stop()


async def _baseline_drain(url: str, stream: str, workdir: Path) -> Drained:
    redis = Redis.from_url(url)
    try:
        await baselines.queue_entries(redis, stream, DRAIN_JOBS)
        subscriber = baselines.spawn("subscriber", [url, stream, str(CONCURRENCY)], workdir)
        try:
            done = partial(baselines.acknowledged, redis, stream)
            return await follow(subscriber, done, DRAIN_JOBS, redis_pid(url))
        finally:
            subscriber.stop()
    finally:
        await redis.aclose()


def baseline(url: str, workdir: Path) -> Figures:
    workdir.mkdir(parents=True, exist_ok=True)
    _progress("baseline: do-nothing FastAPI endpoint")
    accepted = _baseline_accept(workdir)
    _progress("baseline: bare FastStream subscriber")
    stream = f"bench-baseline-{uuid.uuid4().hex[:12]}:drain"
    drained = asyncio.run(_baseline_drain(url, stream, workdir))
    asyncio.run(_delete(url, f"{stream}*"))
    return Figures(drained, accepted)


def _progress(what: str) -> None:
    now = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"bench: overhead: {now} {what} ...", file=sys.stderr, flush=True)


def run(comparison: Comparison, workdir: Path) -> tuple[list[Round], RoundTrips, dict[str, str]]:
    """The round trips of the baseline and every version (`before`'s, if given, and this
    checkout's), taking turns; then `ROUNDS` rounds of their accept and drain, each round in
    another order: the first baselines first, the next last."""
    with redis_url() as url:
        codes = comparison.versions(workdir)
        _progress("round trips: the baseline's and every version's, taking turns")
        round_trips = asyncio.run(_round_trips(url, codes, workdir))
        rounds: list[Round] = []
        for number in range(ROUNDS):
            names = [BASELINE, *(code.name for code in codes)]
            order = names if number % 2 == 0 else names[::-1]
            figures: Round = {}
            for name in order:
                _progress(f"round {number + 1} of {ROUNDS}: {name}")
                where = workdir / f"r{number}-{order.index(name)}"
                if name == BASELINE:
                    figures[name] = baseline(url, where)
                else:
                    code = next(code for code in codes if code.name == name)
                    figures[name] = relayline(code, url, where)
            rounds.append(figures)
        return rounds, round_trips, machine_info(url)


def main() -> int:
    comparison = Comparison.from_arguments("tests.bench.overhead", __doc__)

    def produce(workdir: Path) -> str:
        rounds, round_trips, machine = run(comparison, workdir)
        return render(rounds, round_trips, {**comparison.facts(), **machine})

    return publish("overhead", produce)


if __name__ == "__main__":
    sys.exit(main())
