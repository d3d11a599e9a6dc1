"""The figures of tests/bench/overhead.py and its section of docs/benchmarks.md."""

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tests.bench.drain import Drained
from tests.bench.report import table
from tests.bench.stats import ms, percentile
from tests.bench.wrk import Answered

MEASURES = (
    ("worker drain: 4,000 queued no-op jobs, one process, concurrency 32", "≥ 1.0"),
    ("edge accept: `POST /v1/jobs`, wrk, 64 connections, 10 s", "≥ 0.6"),
    (
        "WS submit → `job-end`, unloaded (200 jobs, taking turns with the baseline's), p50",
        "≤ 1.5 ms",
    ),
)
"""Each measure and the goal of issue 12 for its ratio (for the last: Relayline's p50)."""

HOW_TO_READ = """\
### What each measure does

- **Worker drain.** Relayline: 4,000 chat jobs of pool `bench-drain` (simulated engine, no
  latency or pacing, 4 tokens: job-start, one text-delta, job-end; concurrency 32) are
  POSTed to the edge (32 kept-alive connections) as 8 users, one per shard, while no worker
  of the pool runs; then one `relayline worker --pool bench-drain` process starts.
  Baseline: 4,000 entries of the same size (`__data__`: a job envelope) are XADDed to one
  stream with a consumer group made at 0; then one process runs a FastStream 0.7
  `RedisBroker` subscriber, `StreamSub(stream, group=..., consumer=...)` with
  `max_workers=32` (FastStream's concurrent subscriber) and FastStream's defaults otherwise
  (its XREADGROUP has no COUNT: one read takes every waiting entry), whose handler takes
  the body as a dict and does nothing, so FastStream XACKs it. For both, the bench polls
  Redis every 20 ms (the pool's per-shard ended-job counts; the group's last delivered id
  less its pending entries) and counts from the first finished job to the last, so the
  process's start-up is left out: jobs/s, and the process's CPU time (user + system, /proc)
  over the same window per job, with the Redis server's in parentheses. Ratio: Relayline's
  jobs/s over the baseline's.
- **Edge accept.** `wrk -t1 -c64 -d10s --timeout=30s` with a Lua script that POSTs one small
  valid job (pool `bench-accept`, which no worker serves, so its backlog grows; queue cap and
  per-user limits lifted) to `/v1/jobs` of one edge process, and fails the run if any answer
  is not 202 or any socket fails. Baseline: the same wrk command against a FastAPI app
  whose `POST /v1/jobs` answers 202 with `{"id", "status"}` without reading the body, on
  uvicorn with the edge's settings (one process, loop `auto` = uvloop, httptools; the edge
  adds its read deadlines and connection cap to httptools). req/s, wrk's p50 latency, and
  the server process's CPU per request. Ratio: Relayline's req/s over the baseline's.
  The submit alone (below the table): the same wrk command against
  `python -m tests.bench.bare_submit`, this checkout's submit without FastAPI, Starlette or
  the edge's middleware, on the version's Redis and keys with the edge's settings, measured
  right after that edge's accept in each round; its ratio is read as the accept's.
- **WS submit → job-end.** Relayline: one WebSocket submits 200 jobs of pool `bench-zero`
  (4 tokens, default coalescing) one after the other, each timed from the submit to the
  arrival of its `job-end` (tests/bench/latency.py), with one worker running. Baseline: a
  hand-written round trip with redis.asyncio: the client XADDs a request to a stream; a
  worker process blocked on XREADGROUP reads it, XADDs 3 events to the request's reply
  stream (one command each), then XACKs; the client, blocked on XREAD of the reply stream,
  stops at the third event. 200 round trips each after one not counted, taking turns with
  the versions'. Ratio: Relayline's p50 over the baseline's.

Everything runs on the one machine above: the bench client, wrk, Redis and the measured
process share its cores, so a process bound by CPU competes with its load generator. The
round trips come first, the baseline's and every version's at once (each version with its
own edge and worker), taking turns: the baseline's first round trip, each version's first,
then each one's second (every other turn in reverse order), so a machine whose speed moves
moves them all alike. Then three rounds of the drain and the accept; each round measures the
baselines and every version one after the other on one Redis server, the first round the
baselines first, the second last, the third first again. A ratio of those is the median of
the three rounds' ratios (each round's figure over the same round's baseline), the three in
brackets; a cell of figures is the round whose figure is the median. Every version's jobs
have their own key prefix, deleted once the version is measured (so each starts on an empty
Redis); a version runs its accept, then its drain."""


@dataclass(frozen=True)
class Accepted:
    """A wrk run against one server process, and the CPU time that process used meanwhile."""

    answered: Answered
    cpu_seconds: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.answered.requests


@dataclass(frozen=True)
class Figures:
    """One round's drain and accept of one version of Relayline, or of the baselines."""

    drain: Drained
    accept: Accepted
    bare: Accepted | None = None
    """This checkout's submit alone, without the edge's framework (tests/bench/bare_submit.py)."""


BASELINE = "baseline"
Round = dict[str, Figures]
"""One round's figures: the baselines' (`BASELINE`) and each version's, by name."""
RoundTrips = dict[str, list[float]]
"""The round trips of the baseline (`BASELINE`) and of each version, by name, in seconds."""

_FIGURES: list[Callable[[Figures], float]] = [
    lambda figures: figures.drain.jobs_per_second,
    lambda figures: figures.accept.answered.per_second,
]
"""The rounds' measures' figures, in `MEASURES`' order; a ratio is a version's over the
baseline's."""


def _cells(figures: Figures) -> list[str]:
    drain = figures.drain
    return [
        f"{drain.jobs_per_second:,.0f} jobs/s, {drain.cpu_ms_per_job:.2f} CPU ms/job "
        f"(Redis {drain.redis_cpu_ms_per_job:.2f})",
        _accepted(figures.accept),
    ]


def _accepted(accept: Accepted) -> str:
    return (
        f"{accept.answered.per_second:,.0f} req/s, p50 {ms(accept.answered.p50)}, "
        f"{accept.cpu_ms_per_request:.2f} CPU ms/req"
    )


def _median_cells(rounds: list[Round], name: str) -> list[str]:
    """For each measure of the rounds, the cell of the round whose figure of `name` is the
    median."""
    cells = []
    for n, figure in enumerate(_FIGURES):
        ordered = sorted(rounds, key=lambda each: figure(each[name]))
        cells.append(_cells(ordered[(len(ordered) - 1) // 2][name])[n])
    return cells


def _ratios(rounds: list[Round], name: str) -> list[str]:
    """Each measure's ratio: the median of the rounds' own, then the rounds' in brackets."""
    return [
        _median_ratio([figure(each[name]) / figure(each[BASELINE]) for each in rounds])
        for figure in _FIGURES
    ]


def _median_ratio(ratios: list[float]) -> str:
    spelled = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    return f"{statistics.median(ratios):.2f} ({spelled})"


def _bare(rounds: list[Round], name: str) -> str:
    """The submit alone, read as the edge accept's row is: the median round's figures, and
    the median of the rounds' ratios to the do-nothing endpoint."""
    pairs = [(each[name].bare, each[BASELINE].accept) for each in rounds]
    bares = [(bare, baseline) for bare, baseline in pairs if bare is not None]
    ordered = sorted((bare for bare, _ in bares), key=lambda bare: bare.answered.per_second)
    cell = _accepted(ordered[(len(ordered) - 1) // 2])
    ratio = _median_ratio(
        [bare.answered.per_second / baseline.answered.per_second for bare, baseline in bares]
    )
    return (
        f"**The submit alone** ({name}; `tests/bench/bare_submit.py`: `POST /v1/jobs` doing "
        "only a submit's own work, without FastAPI, Starlette or the edge's middleware; the "
        f"accept's wrk command): {cell}; ratio {ratio}. The edge does this work and more "
        "for every submit, so its accept's ratio cannot pass this one's."
    )


def _round_trip(times: list[float]) -> str:
    return f"{ms(percentile(times, 50))} (p99 {ms(percentile(times, 99))})"


def render(rounds: list[Round], round_trips: RoundTrips, facts: Mapping[str, str]) -> str:
    """One row per measure: the baseline, then each version and its ratio, then the goal."""
    versions = [name for name in rounds[0] if name != BASELINE]
    base = percentile(round_trips[BASELINE], 50)
    columns = [[*_median_cells(rounds, BASELINE), _round_trip(round_trips[BASELINE])]]
    header = ["measure", "baseline"]
    for name in versions:
        p50 = percentile(round_trips[name], 50)
        columns += [
            [*_median_cells(rounds, name), _round_trip(round_trips[name])],
            [*_ratios(rounds, name), f"{p50 / base:.1f}x the time"],
        ]
        header += [f"Relayline ({name})" if len(versions) > 1 else "Relayline", "ratio"]
    rows = [
        [measure, *(column[n] for column in columns), goal]
        for n, (measure, goal) in enumerate(MEASURES)
    ]
    lines = ["## Overhead against the baselines (issue 12)", ""]
    lines += [f"- **{name}**: {value}" for name, value in facts.items()]
    lines += ["", *table([*header, "goal"], rows)]
    lines += [
        line
        for name in versions
        if all(each[name].bare is not None for each in rounds)
        for line in ("", _bare(rounds, name))
    ]
    lines += ["", HOW_TO_READ]
    return "\n".join(lines)
