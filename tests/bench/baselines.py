"""The baselines of tests/bench/overhead.py: what Relayline is built on, doing nothing else.
Each runs as a process of its own, as Relayline's edge and worker do:

    python -m tests.bench.baselines subscriber URL STREAM CONCURRENCY
        a bare FastStream subscriber (`StreamSub` with a consumer group, `max_workers`
        CONCURRENCY: FastStream's own concurrent handling) whose handler does nothing, so
        FastStream acknowledges each entry when it returns
    python -m tests.bench.baselines http PORT
        a FastAPI app whose `POST /v1/jobs` answers 202 with a small JSON body, on uvicorn
        with the edge's loop and HTTP implementation (uvloop, httptools), one process
    python -m tests.bench.baselines echo URL STREAM
        the worker side of a hand-written Redis Streams round trip: blocked on XREADGROUP,
        for each request it XADDs 3 events to the request's reply stream, then XACKs

The functions below are the bench's side of them: the backlog, its progress, the round trip.
"""

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tests.bench.stats import BenchFailure
from tests.bench.versions import ROOT
from tests.support.stack import Process

GROUP = "workers"
ENVELOPE = json.dumps(
    {
        "id": "0" * 32,
        "owner": "alice",
        "model": "baseline",
        "input": {"messages": [{"role": "user", "content": "Tell me about relays."}]},
        "params": {"max_tokens": 4},
    }
)
"""An entry's body: the size and shape of a job envelope."""
EVENTS = [json.dumps({"seq": seq, "type": "event", "ts": 0.0}) for seq in (1, 2, 3)]
ROUND_TRIP_TIMEOUT_MS = 30_000
Read = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]
"""What XREAD and XREADGROUP answer (RESP2, bytes): entries by stream."""
log = logging.getLogger("relayline.bench.baseline")


def spawn(role: str, args: list[str], workdir: Path) -> Process:
    """Start `python -m tests.bench.baselines ROLE ARGS...` from this checkout."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONSAFEPATH"}
    return spawn_module(f"baseline {role}", "tests.bench.baselines", [role, *args], workdir, env)


def spawn_module(
    name: str, module: str, args: list[str], workdir: Path, env: dict[str, str]
) -> Process:
    """Start `python -m MODULE ARGS...` from this checkout with `env`, its output in a log
    of `workdir` named after `name`."""
    log_path = workdir / f"{name.replace(' ', '-')}.log"
    with log_path.open("wb") as output:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log_path)


async def create_group(redis: Redis, stream: str) -> None:
    """The group reads the stream from its start (FastStream's default, `$`, would skip
    what was added before it started)."""
    try:
        await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def queue_entries(redis: Redis, stream: str, count: int) -> None:
    """XADD `count` entries with ids 1-1 .. 1-count, in FastStream's field (`__data__`)."""
    await create_group(redis, stream)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(1, count + 1):
            pipe.xadd(stream, {"__data__": ENVELOPE}, id=f"1-{n}")
        await pipe.execute()


async def acknowledged(redis: Redis, stream: str) -> int:
    """Entries of `queue_entries` the group has read and acknowledged."""
    (group,) = await redis.xinfo_groups(stream)
    delivered = int(str(group["last-delivered-id"], "ascii").partition("-")[2])
    return delivered - int(group["pending"])


async def round_trip(redis: Redis, stream: str, reply: str) -> float:
    """One round trip through the `echo` process, its answers on the fresh stream `reply`:
    the time from the XADD to the third event read."""
    sent_at = time.perf_counter()
    await redis.xadd(stream, {"__data__": ENVELOPE, "reply": reply})
    seen, last = 0, b"0-0"
    while seen < len(EVENTS):
        answer = cast(Read, await redis.xread({reply: last}, block=ROUND_TRIP_TIMEOUT_MS))
        if not answer:
            raise BenchFailure(f"no reply on {reply} in {ROUND_TRIP_TIMEOUT_MS} ms")
        entries = answer[0][1]
        seen, last = seen + len(entries), entries[-1][0]
    return time.perf_counter() - sent_at


async def _echo(url: str, stream: str) -> None:
    redis = Redis.from_url(url)
    await create_group(redis, stream)
    while True:
        read = redis.xreadgroup(GROUP, "echo", {stream: ">"}, count=1, block=0)
        answer = cast(Read, await read)
        for _, entries in answer:
            for entry_id, fields in entries:
                for event in EVENTS:
                    await redis.xadd(fields[b"reply"], {"e": event})
                await redis.xack(stream, GROUP, entry_id)


def _subscriber(url: str, stream: str, concurrency: int) -> None:
    from faststream import FastStream
    from faststream.redis import RedisBroker, StreamSub

    broker = RedisBroker(url, logger=log)

    @broker.subscriber(
        stream=StreamSub(stream, group=GROUP, consumer="noop"), max_workers=concurrency
    )
    async def noop(body: dict[str, Any]) -> None:
        """Does nothing: FastStream acknowledges the entry when it returns."""

    asyncio.run(FastStream(broker, logger=log).run())


def _http(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/jobs", status_code=202)
    async def accept() -> dict[str, str]:
        return {"id": "0" * 32, "status": "queued"}

    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="auto", http="httptools", log_level="warning"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m tests.bench.baselines")
    roles = parser.add_subparsers(dest="role", required=True)
    subscriber = roles.add_parser("subscriber")
    subscriber.add_argument("url")
    subscriber.add_argument("stream")
    subscriber.add_argument("concurrency", type=int)
    roles.add_parser("http").add_argument("port", type=int)
    echo = roles.add_parser("echo")
    echo.add_argument("url")
    echo.add_argument("stream")
    args = parser.parse_args()
    if args.role == "subscriber":
        _subscriber(args.url, args.stream, args.concurrency)
    elif args.role == "http":
        _http(args.port)
    else:
        asyncio.run(_echo(args.url, args.stream))


if __name__ == "__main__":
    main()
