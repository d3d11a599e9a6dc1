"""Intake: how a worker takes jobs from its pool's shard streams, only as many as it can run.

A pool has one job stream per shard. The worker reads each through a FastStream subscriber of
its own, a `ShardReader`, and they all draw on one `Slots`: the `concurrency` jobs this
process runs at once, over every shard (the reaper draws on it too). A reader takes a slot
*before* it asks the group for an entry, so the worker never holds more entries than it has
slots: a job it cannot start now stays in the stream for a worker that can. In a loop:

1. wait for a free slot (a worker with none reads nothing);
2. take it, and read one entry through the group without blocking (`XREADGROUP … COUNT 1`);
   an entry runs in a task of its own under that slot (so the reader goes on while slots
   remain), through FastStream's `consume`: the handler and the acknowledgement are
   FastStream's as for any subscriber (an entry the handler refuses with `NackMessage` stays
   pending). No entry: the slot goes back, and
3. wait for the stream to hold an entry the group has not delivered: a blocking `XREAD`
   (which delivers nothing to anyone) from the group's last delivered id (`XINFO GROUPS`),
   then go to 1. It wakes as soon as a job is queued, or after `polling_interval`.

A blocking `XREADGROUP` on every shard stream would take an entry on each stream that got one
while a slot was free: with 8 shards and one slot, up to 8 entries held for one slot. Here an
idle worker costs one blocking read per shard per `polling_interval`, and a busy one none.
On shutdown the slots close: readers stop reading and the reaper stops claiming.
"""

import asyncio
from typing import Any, cast

from faststream._internal.broker.registrator import Registrator
from faststream._internal.endpoint.subscriber.call_item import CallsCollection
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.configs import RedisBrokerConfig
from faststream.redis.message import DefaultStreamMessage
from faststream.redis.subscriber.config import (
    RedisSubscriberConfig,
    RedisSubscriberSpecificationConfig,
)
from faststream.redis.subscriber.specification import StreamSubscriberSpecification
from faststream.redis.subscriber.usecases.stream_subscriber import (
    ReadCallable,
    StreamSubscriber,
)
from redis.exceptions import ResponseError
from typing_extensions import override

from contracts.keys import GROUP


class Slots:
    """The jobs one worker process runs at once, shared by its shard readers and its reaper."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self.closed = False
        self._room = asyncio.Event()
        self._room.set()

    async def wait_free(self) -> None:
        """Until a slot is free (forever once closed); takes none."""
        while not (self.free and not self.closed):
            await self._room.wait()

    def try_take(self) -> bool:
        """Take a free slot at once, or say there is none."""
        if self.closed or not self.free:
            return False
        self.free -= 1
        if not self.free:
            self._room.clear()
        return True

    def release(self) -> None:
        self.free = min(self.free + 1, self.size)
        if not self.closed:
            self._room.set()

    def close(self) -> None:
        """Take nothing more (the worker is draining)."""
        self.closed = True
        self._room.clear()


class ShardReader(StreamSubscriber):
    """One shard stream's subscriber: takes an entry only under a slot taken first, and runs
    each job in a task of its own (see the module's doc)."""

    def __init__(
        self,
        config: RedisSubscriberConfig,
        specification: StreamSubscriberSpecification,
        calls: CallsCollection[Any],
        *,
        slots: Slots,
    ) -> None:
        super().__init__(config, specification, calls)
        self.slots = slots
        self.jobs: set[asyncio.Task[None]] = set()
        self.after: str | None = None
        """Wait for an entry past this id before the next group read (None: read now)."""

    @override
    async def _get_msgs(self, read: ReadCallable) -> None:
        # FastStream's `read`, a blocking XREADGROUP, would take an entry before a slot.
        await self.slots.wait_free()
        if self.after is not None and not await self._undelivered():
            return
        if not self.slots.try_take():  # another reader, or the reaper, took the last slot
            return
        started = False
        try:
            started = await self._take_one()
        finally:
            if not started:
                self.slots.release()
        self.after = None if started else await self._last_delivered()

    async def _take_one(self) -> bool:
        """Read one entry through the group without blocking; run it under the slot taken."""
        for stream_name, entries in await self._xreadgroup(count=1, block=None):
            for raw_entry in entries:
                message_id, data, _ = self._parse_stream_entry(raw_entry)
                self.last_id = message_id.decode()
                message = DefaultStreamMessage(
                    type="stream",
                    channel=stream_name.decode(),
                    message_ids=[message_id],
                    data=data,
                )
                job = asyncio.create_task(self._run(message))
                self.jobs.add(job)
                job.add_done_callback(self.jobs.discard)
                return True  # COUNT 1: the only one
        return False

    async def _run(self, message: DefaultStreamMessage) -> None:
        try:
            await self.consume(message)
        finally:
            self.slots.release()

    async def _undelivered(self) -> bool:
        """Whether the stream holds an entry past `after`, waiting up to `polling_interval`
        for one; delivers nothing."""
        assert self.after is not None
        stream = self.stream_sub
        reply = await self._client.xread(
            {stream.name: self.after}, count=1, block=stream.polling_interval
        )
        return bool(reply)

    async def _last_delivered(self) -> str:
        """The id of the group's last delivered entry: every entry past it is undelivered.
        A stream or group that is gone (a Redis restart) gives 0-0: the next entry wakes the
        reader, whose group read finds the group the heartbeat recreated, or fails with
        NOGROUP, which stops the worker for `relayline worker` to start again."""
        try:
            groups: list[dict[str, Any]] = await self._client.xinfo_groups(self.stream_sub.name)
        except ResponseError:
            return "0-0"
        for group in groups:
            if _text(group["name"]) == GROUP:
                return _text(group["last-delivered-id"])
        return "0-0"

    @override
    async def stop(self) -> None:
        await super().stop()
        jobs = list(self.jobs)  # none after a drain; a job cancelled here hands itself back
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def shard_reader(
    broker: RedisBroker, stream: StreamSub, *, slots: Slots, title: str
) -> ShardReader:
    """Register a `ShardReader` of `stream` with `broker`: what `broker.subscriber(stream=…)`
    does for a stream (FastStream's `create_subscriber`), with our subscriber class."""
    outer = cast(RedisBrokerConfig, broker.config)
    calls = CallsCollection[Any]()
    specification = StreamSubscriberSpecification(
        outer,
        RedisSubscriberSpecificationConfig(title_=title, description_=None),
        calls,
        stream_sub=stream,
    )
    config = RedisSubscriberConfig(stream_sub=stream, _outer_config=outer)
    reader = ShardReader(config, specification, calls, slots=slots)
    Registrator.subscriber(broker, reader)  # what `RedisRegistrator.subscriber` calls
    return reader.add_call(parser_=None, decoder_=None, dependencies_=())
