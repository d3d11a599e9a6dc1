"""`make bench`, chat part: the default chat model's speed, and what the relay costs.

The same engine and model are run twice, in one process run: in-process (the engine called
directly, as a library would) and through the whole stack (edge, Redis, a worker process,
the WebSocket). Time to first token and tokens/s of both, and their ratio, go to the
`chat` section of docs/benchmarks.md.
"""

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from contracts.pools import load_pools
from tests.bench.machine import machine_info
from tests.bench.report import DOC, write_section
from tests.bench.stats import BenchFailure
from tests.bench.wsclient import open_ws, submit_and_follow
from tests.support.redis import redis_url
from tests.support.stack import Edge, Stack
from worker.engines.base import JobContext, Text
from worker.engines.huggingface import HuggingFaceEngine

POOLS = Path(__file__).with_name("pools.toml")
TOKENS, RUNS = 128, 5
MESSAGES = [{"role": "user", "content": "Tell me about the for statement."}]


async def in_process() -> tuple[list[float], list[float]]:
    """(seconds to first token, tokens/s) of each run, the engine called directly."""
    pool = load_pools(POOLS).pools["bench-chat"]
    engine = HuggingFaceEngine(pool)
    await engine.load()
    firsts, rates = [], []
    for run in range(RUNS + 1):
        started, first, count = time.perf_counter(), 0.0, 0
        job = JobContext(f"bench-{run}", {"messages": MESSAGES}, {"max_tokens": TOKENS}, 1)
        async for item in engine.stream(job):
            if isinstance(item, Text):
                first = first or time.perf_counter()
                count += 1
        if run:  # the first run warms up
            firsts.append(first - started)
            rates.append(TOKENS / (time.perf_counter() - first))
    return firsts, rates


async def through_stack(edge: Edge) -> tuple[list[float], list[float]]:
    """(seconds to first token, tokens/s) of each run through edge, Redis and a worker."""
    firsts, rates = [], []
    async with open_ws(edge) as connection:
        for run in range(RUNS + 1):
            transcript = await submit_and_follow(connection, "bench-chat", TOKENS)
            transcript.check()
            end = transcript.events[-1]
            if end["usage"]["completion_tokens"] != TOKENS:
                raise BenchFailure(f"asked {TOKENS} tokens, got {end['usage']}")
            first = transcript.first_text_at()
            assert first is not None
            if run:
                firsts.append(first - transcript.sent_at)
                rates.append(TOKENS / (transcript.ended_at - first))
    return firsts, rates


def render(
    machine: dict[str, str],
    local: tuple[list[float], list[float]],
    relayed: tuple[list[float], list[float]],
    date: str,
) -> str:
    local_first, local_rate = (statistics.median(values) for values in local)
    relay_first, relay_rate = (statistics.median(values) for values in relayed)
    rows = [
        (
            "time to first token",
            f"{local_first * 1000:.1f} ms",
            f"{relay_first * 1000:.1f} ms",
            f"{relay_first / local_first:.2f}x",
        ),
        (
            "tokens/s after the first",
            f"{local_rate:.1f}",
            f"{relay_rate:.1f}",
            f"{relay_rate / local_rate:.2f}x",
        ),
    ]
    lines = [
        "## Chat model and relay overhead",
        "",
        "- **Command**: `make bench` (`.venv/bin/python -m tests.bench.chat`)",
        f"- **Date**: {date}",
        f"- **Model**: relayline-tiny-chat (4.3 M parameters), engine `transformers`, "
        f"1 torch thread, {TOKENS} tokens per run, median of {RUNS} runs after a warm-up",
        *(f"- **{name}**: {value}" for name, value in machine.items()),
        "",
        "| measure | engine in-process | through the stack (edge, Redis, worker, WS) | ratio |",
        "| --- | --- | --- | --- |",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        "Both columns come from one run of the command on the same machine. The default chat "
        "worker's speed is the stack's tokens/s. The stack's time to first token includes the "
        "submit, the queue, the worker's start and the first event's way back; its tokens/s "
        "includes coalescing text into events every 30 ms and the fan-out.",
    ]
    return "\n".join(lines)


def main() -> int:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    local = asyncio.run(in_process())
    with redis_url() as url, tempfile.TemporaryDirectory(prefix="relayline-bench-") as work:
        stack = Stack(url, Path(work), pools_file=POOLS)
        try:
            edge = stack.edge()
            stack.worker("bench-chat", env={"WORKER_CONCURRENCY": "1"})
            relayed = asyncio.run(through_stack(edge))
        finally:
            stack.close()
        machine = machine_info(url)
    body = render(machine, local, relayed, date)
    print(body)
    write_section(body, name="chat")
    print(f"bench: wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
