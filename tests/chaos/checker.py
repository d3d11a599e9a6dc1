"""The chaos checker: clients that follow jobs through faults, and the promises they check.

A `Follower` watches one job over a WebSocket; when its edge dies or closes the socket it
reconnects (to the next edge in its list) and resumes from the last seq it saw, as the web
app does. `check` then asserts ARCHITECTURE's promises on every transcript:

- each accepted job ends in exactly one terminal state (`job-end` once, last);
- seq runs 1..n with no gap and no duplicate, across reconnects;
- the text after the last `job-reset` (or `job-start`) is exactly one attempt's output;
- at the end nothing stays pending in any consumer group.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import redis

from contracts.keys import GROUP, Keys
from tests.support.stack import Edge, auth
from tests.support.wait import wait_for

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Transcript:
    job_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    reconnects: int = 0
    lost: dict[str, Any] | None = None
    close_codes: list[int | None] = field(default_factory=list)

    @property
    def end(self) -> dict[str, Any] | None:
        return self.events[-1] if self.events and self.events[-1]["type"] == "job-end" else None


async def follow(
    edges: list[Edge],
    job_id: str,
    timeout: float = 90,
    user: str = "alice",
    transcript: Transcript | None = None,
) -> Transcript:
    """Follow a job to its end, reconnecting through `edges` in turn on any disconnect; fills
    `transcript` (if given) as events arrive, so a test can act on progress."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidMessage

    transcript = transcript or Transcript(job_id)
    headers = auth(user)
    attempt = 0
    async with asyncio.timeout(timeout):
        while transcript.end is None and transcript.lost is None:
            edge = edges[attempt % len(edges)]
            attempt += 1
            after = transcript.events[-1]["seq"] if transcript.events else 0
            try:
                async with connect(
                    edge.ws_url, additional_headers=headers, open_timeout=5
                ) as socket:
                    subscribe = {"type": "subscribe", "job_id": job_id, "after": after}
                    await socket.send(json.dumps(subscribe))
                    async for raw in socket:
                        message = json.loads(raw)
                        if message.get("type") == "error" and message.get("job_id") == job_id:
                            if message["code"] == "redis_unavailable":
                                break  # Redis is restarting: retry, as a client does
                            transcript.lost = message
                            break
                        if message.get("job_id") == job_id and "seq" in message:
                            transcript.events.append(message)
                            if message["type"] == "job-end":
                                break
                    else:
                        transcript.close_codes.append(socket.close_code)
            except ConnectionClosed as closed:  # the edge went away mid-stream
                transcript.close_codes.append(closed.rcvd.code if closed.rcvd else None)
            except (OSError, InvalidMessage):  # the edge is not there (yet), or it died
                transcript.close_codes.append(None)  # during the handshake: try the next one
            if transcript.end is None and transcript.lost is None:
                transcript.reconnects += 1
                await asyncio.sleep(0.2)  # a client's reconnect backoff, not a synchronisation
    return transcript


def follow_live(
    edges: list[Edge], job_id: str, timeout: float = 90
) -> tuple[Transcript, "asyncio.Task[Transcript]"]:
    """Follow a job in the background: the transcript fills as events arrive, so a test can
    strike at a point of its progress; the task returns it at the job's end."""
    live = Transcript(job_id)
    return live, asyncio.create_task(follow(edges, job_id, timeout=timeout, transcript=live))


def check(transcript: Transcript) -> None:
    events = transcript.events
    assert transcript.lost is None, transcript.lost
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(1, len(events) + 1)), f"{transcript.job_id}: seqs {seqs}"
    ends = [event for event in events if event["type"] == "job-end"]
    assert len(ends) == 1, f"{transcript.job_id}: {len(ends)} job-end events"
    assert events[-1] is ends[0]
    assert ends[0]["status"] in TERMINAL
    starts = [i for i, event in enumerate(events) if event["type"] in ("job-start", "job-reset")]
    last_attempt = events[starts[-1] + 1 :] if starts else events
    text = "".join(event["delta"] for event in last_attempt if event["type"] == "text-delta")
    if ends[0]["status"] == "succeeded":
        assert text == ends[0]["output"]["text"], f"{transcript.job_id}: interleaved output"
    resets = [event for event in events if event["type"] == "job-reset"]
    attempts = [event["attempt"] for event in events if event["type"] in ("job-start", "job-reset")]
    assert attempts == sorted(attempts), f"{transcript.job_id}: attempts out of order {attempts}"
    if resets:
        assert events[starts[-1]]["type"] in ("job-reset", "job-start")


def nothing_pending(redis_url: str, keys: Keys, pools: list[str], timeout: float = 15) -> bool:
    """Every consumer group settles with nothing pending: a job whose acknowledgement was
    lost in a fault is acknowledged by the reaper within a lease."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    def settled() -> bool:
        try:
            return all(
                client.xpending(stream, GROUP)["pending"] == 0
                for pool in pools
                for stream in keys.job_streams(pool)
            )
        except (redis.BusyLoadingError, redis.ConnectionError):  # a Redis the nemesis
            return False  # just restarted may still be loading its data

    try:
        wait_for(
            settled,
            timeout=timeout,
            what="consumer groups with nothing pending",
        )
        return True
    finally:
        client.close()
