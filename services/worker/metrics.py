"""Prometheus metrics of a worker process, served on `WORKER_METRICS_PORT` (off when unset:
several workers may share a machine). Labelled by the pool the process serves.

- `relayline_worker_jobs_total{pool,status}`: jobs this worker ended, by status;
- `relayline_worker_engine_seconds{pool}`: an attempt's time from its start to its end;
- `relayline_worker_queue_wait_seconds{pool}`: a job's submit to its first attempt's start;
- `relayline_worker_events_total{pool}`: events written to job logs;
- `relayline_worker_tokens_total{pool,kind}`: prompt and completion tokens of the jobs ended
  (`rate()` gives tokens/s);
- `relayline_worker_running_jobs{pool}` and `relayline_worker_slots{pool}`: jobs running now,
  and the concurrency they run in.
"""

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from contracts.events import JobEnd

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

JOBS = Counter("relayline_worker_jobs", "Jobs this worker ended, by status", ["pool", "status"])
ENGINE_SECONDS = Histogram(
    "relayline_worker_engine_seconds",
    "Time from an attempt's start to its end",
    ["pool"],
    buckets=SECONDS,
)
QUEUE_WAIT = Histogram(
    "relayline_worker_queue_wait_seconds",
    "Time from a job's submit to its first attempt's start",
    ["pool"],
    buckets=SECONDS,
)
EVENTS = Counter("relayline_worker_events", "Events written to job logs", ["pool"])
TOKENS = Counter(
    "relayline_worker_tokens", "Tokens of the jobs this worker ended", ["pool", "kind"]
)
RUNNING = Gauge("relayline_worker_running_jobs", "Jobs this worker runs now", ["pool"])
SLOTS = Gauge("relayline_worker_slots", "Jobs this worker may run at once", ["pool"])


class PoolMetrics:
    """The metrics of one pool's worker, as the runner records them: each metric's child for
    the pool is looked up once, not on every event."""

    def __init__(self, pool: str) -> None:
        self.pool = pool
        self._queue_wait = QUEUE_WAIT.labels(pool)
        self._events = EVENTS.labels(pool)
        self._engine = ENGINE_SECONDS.labels(pool)
        self._prompt = TOKENS.labels(pool, "prompt")
        self._completion = TOKENS.labels(pool, "completion")

    def started(self, queue_wait: float | None) -> None:
        if queue_wait is not None:
            self._queue_wait.observe(max(0.0, queue_wait))

    def wrote(self, events: int) -> None:
        self._events.inc(events)

    def ended(self, end: JobEnd, engine_seconds: float) -> None:
        JOBS.labels(self.pool, end.status.value).inc()
        self._engine.observe(engine_seconds)
        if end.usage is not None:
            self._prompt.inc(end.usage.prompt_tokens)
            self._completion.inc(end.usage.completion_tokens)


def serve_metrics(pool: str, port: int, host: str, size: int, running: Callable[[], float]) -> None:
    """Serve the process's metrics on `host:port` (a thread of prometheus_client's)."""
    SLOTS.labels(pool).set(size)
    RUNNING.labels(pool).set_function(running)
    start_http_server(port, addr=host)
