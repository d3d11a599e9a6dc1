"""Intake: how a worker takes jobs from its pool's queues, only as many as it can run.

A pool has one queue and one job stream per shard (`contracts.queue`). The worker reads each
shard through a FastStream subscriber of its own, a `ShardReader`, and they all draw on one
`Slots`: the `concurrency` jobs this process runs at once, over every shard (the reaper draws
on it too). A reader takes a slot *before* it takes a job, so the worker never holds more jobs
than it has slots: a job it cannot start now stays in its queue, where the next free slot of
any worker takes whichever job is fairly next. In a loop:

1. wait for a slot (a worker with none takes nothing): `Slots` gives a freed one to the reader
   whose claim comes first (interactive work, then by the shards' weights; `worker.slots`);
2. take it, and run `TAKE` on the shard's queue: it moves the next job into the job stream,
   reads one entry through the group and begins the job's attempt, in one step. A shard with
   a backlog (as its last take said) takes up to `MAX_TAKE` jobs at once, under as many
   slots, when that many are free and no other claim waits for them (`Slots.extra`): a burst
   of submits starts in a few round trips, not one per job. An entry runs in a task of its own under
   that slot (so the reader goes on while slots remain), handed to the worker's `run` as the
   reaper hands it the entries it claims: the worker acknowledges what it must (most entries
   are acknowledged by their `job-end`'s script). FastStream's per-message path (decoding
   through dependency injection, which runs a thread hop per message, its middlewares and a
   second XACK) is not used: it cost more than the rest of a no-op job
   (docs/benchmarks.md). The subscriber's registered call describes the stream's messages
   (`JobEnvelope`) in FastStream's AsyncAPI document. Nothing waits: the slot goes back, and
3. wait for a submit to the shard's queue: a blocking `XREAD` of its ready stream from the id
   `TAKE` answered, then go to 1. It wakes as soon as a job is queued, or after
   `polling_interval`.

A blocking `XREADGROUP` on every shard stream would take an entry on each stream that got one
while a slot was free: with 8 shards and one slot, up to 8 entries held for one slot. Here an
idle worker costs one blocking read per shard per `polling_interval`, and a busy one none.
On shutdown the slots close: readers stop reading and the reaper stops claiming.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast

from faststream._internal.broker.registrator import Registrator
from faststream._internal.endpoint.subscriber.call_item import CallsCollection
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.configs import RedisBrokerConfig
from faststream.redis.subscriber.config import (
    RedisSubscriberConfig,
    RedisSubscriberSpecificationConfig,
)
from faststream.redis.subscriber.specification import StreamSubscriberSpecification
from faststream.redis.subscriber.usecases.stream_subscriber import (
    ReadCallable,
    StreamSubscriber,
)
from typing_extensions import override

from contracts.eventlog import Started
from contracts.jobs import JobEnvelope
from contracts.queue import PoolQueues
from worker.leases import Entry, RunEntry
from worker.slots import MIN_WEIGHT, Claim, Claimant, Slots

MAX_TAKE = 16
"""The most jobs one `TAKE` of a reader moves and begins."""


@dataclass(frozen=True, slots=True)
class QueueOfShard:
    """Which queue a `ShardReader` takes from: its pool's, in one shard."""

    queues: PoolQueues
    shard: int


class ShardReader(StreamSubscriber):
    """One shard's subscriber: takes a job only under a slot taken first, from the shard's
    queue through `TAKE`, and runs each job in a task of its own (see the module's doc)."""

    def __init__(
        self,
        config: RedisSubscriberConfig,
        specification: StreamSubscriberSpecification,
        calls: CallsCollection[Any],
        *,
        slots: Slots,
        queue: QueueOfShard,
        run: RunEntry,
    ) -> None:
        super().__init__(config, specification, calls)
        self.slots = slots
        self.queue = queue
        self.run = run
        self.jobs: set[asyncio.Task[None]] = set()
        self.claimant = Claimant()
        self.claim = Claim(interactive=True, weight=1.0)
        """What the shard's queue holds, as it last said (or a submit's priority)."""
        self.after: str | None = None
        """Wait for the ready stream to pass this id before the next take (None: take now)."""
        self.backlog = 1
        """Jobs the shard's queue held at the last take (1 after a submit woke the reader)."""
        self._sub: StreamSub | None = None
        """`stream_sub`, kept: FastStream's property deep-copies it on every read."""

    @override
    async def _get_msgs(self, read: ReadCallable) -> None:
        # FastStream's `read`, a blocking XREADGROUP, would take an entry before a slot.
        if self.after is not None and not await self._ready():
            return
        await self.slots.take(self.claimant, self.claim)
        held = 1 + self.slots.extra(self.claimant, min(self.backlog, MAX_TAKE) - 1)
        started, backlog = 0, None
        try:
            started, backlog = await self._take(held)
        finally:
            self.slots.taken(self.claimant, backlog)
            for _ in range(held - started):
                self.slots.release()

    async def _take(self, count: int) -> tuple[int, Claim | None]:
        """Take up to `count` of the shard's next jobs and run each under a slot taken: how
        many it did, and the claim of what the shard has left (None: nothing)."""
        sub = self._stream()
        consumer = sub.consumer or ""
        taken = await self.queue.queues.take(
            self.queue.shard, consumer=consumer, now=time.time(), count=count, worker=consumer
        )
        waiting, backlog = taken.waiting, None
        self.backlog = waiting.interactive + waiting.batch
        if self.backlog:  # claim a slot again at once
            self.after = None
            interactive = waiting.interactive > 0
            weight = waiting.interactive_weight if interactive else waiting.batch_weight
            self.claim = backlog = Claim(interactive, max(weight, MIN_WEIGHT))
        else:  # wait for a submit past the take
            self.after, self.backlog = taken.ready_id, 1
        for job in taken.jobs:
            self.last_id = job.entry_id
            entry = Entry(sub.name, job.entry_id)
            envelope = JobEnvelope.model_validate_json(job.envelope)
            task = asyncio.create_task(self._run(entry, envelope, job.started))
            self.jobs.add(task)
            task.add_done_callback(self.jobs.discard)
        return len(taken.jobs), backlog

    def _stream(self) -> StreamSub:
        if self._sub is None:
            self._sub = self.stream_sub
        return self._sub

    async def _run(self, entry: Entry, envelope: JobEnvelope, started: Started | None) -> None:
        try:
            await self.run(entry, envelope, started)
        finally:
            self.slots.release()

    async def _ready(self) -> bool:
        """Whether a job was submitted to the shard's queue since `after`, waiting up to
        `polling_interval` for one (a timeout also lets the next take find what the stream
        holds undelivered: entries the reaper or an older release queued)."""
        assert self.after is not None
        queues = self.queue.queues
        reply = await self._client.xread(
            {queues.keys.ready(queues.pool, self.queue.shard): self.after},
            count=1,
            block=self._stream().polling_interval,
        )
        self.after = None  # a take at least once per polling interval
        for _, entries in cast(
            list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply or []
        ):
            for _, fields in entries:  # the submit's priority; the take tells the weight
                interactive = fields.get(b"p", b"interactive") == b"interactive"
                self.claim = Claim(interactive, self.claim.weight)
        return bool(reply)

    @override
    async def stop(self) -> None:
        await super().stop()
        jobs = list(self.jobs)  # none after a drain; a job cancelled here hands itself back
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


def shard_reader(
    broker: RedisBroker,
    stream: StreamSub,
    *,
    slots: Slots,
    queue: QueueOfShard,
    run: RunEntry,
    title: str,
) -> ShardReader:
    """Register a `ShardReader` of `stream` with `broker`: what `broker.subscriber(stream=…)`
    does for a stream (FastStream's `create_subscriber`), with our subscriber class. Call the
    result with a function of a `JobEnvelope`: it names the stream's messages in FastStream's
    AsyncAPI document (jobs run through `run`)."""
    outer = cast(RedisBrokerConfig, broker.config)
    calls = CallsCollection[Any]()
    specification = StreamSubscriberSpecification(
        outer,
        RedisSubscriberSpecificationConfig(title_=title, description_=None),
        calls,
        stream_sub=stream,
    )
    config = RedisSubscriberConfig(stream_sub=stream, _outer_config=outer)
    reader = ShardReader(config, specification, calls, slots=slots, queue=queue, run=run)
    Registrator.subscriber(broker, reader)  # what `RedisRegistrator.subscriber` calls
    return reader.add_call(parser_=None, decoder_=None, dependencies_=())
