"""What one client connection is sent: a queue bounded in events AND in bytes.

The fan-out reader hands events to an `Outbox` without ever waiting (`deliver`); an outbox
that would grow past `size` events or `max_bytes` (counted as characters of JSON) is
overflowed instead, and its client is cut off. A catch-up, which reads at its own pace,
waits for room (`put`). One item larger than `max_bytes` still passes when the queue is
empty, so a large `job-end` can be delivered, one at a time.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Item = tuple[str | None, int, str]
"""(job id, seq, JSON) for an event; (None, 0, JSON) for a control message; (job id, LOST,
error JSON) when a subscription ended with an error (the job vanished, its log expired,
Redis refused a read); (job id, STARTS, `subscribed` JSON) for the reply that starts a
subscription: the events of the job queued before it belong to an earlier one."""
LOST = -1
STARTS = -2


@dataclass(eq=False)
class Subscription:
    """One job followed by one outbox: live events wait in `pending` during the catch-up."""

    live: bool = False
    pending: deque[tuple[int, str]] = field(default_factory=deque)
    pending_bytes: int = 0
    task: "asyncio.Task[None] | None" = None


class Outbox:
    def __init__(self, size: int, max_bytes: int, on_overflow: Callable[[], None]) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.subscriptions: dict[str, Subscription] = {}
        self.overflowed = False
        self._on_overflow = on_overflow
        self._items: deque[Item] = deque()
        self._bytes = 0
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()

    def _fits(self, count: int, used: int, data: str) -> bool:
        return count == 0 or (count < self.size and used + len(data) <= self.max_bytes)

    def _push(self, item: Item) -> None:
        self._items.append(item)
        self._bytes += len(item[2])
        self._readable.set()

    def offer(self, item: Item) -> None:
        """Queue without waiting; no room means the client is cut off."""
        if self.overflowed:
            return
        if self._fits(len(self._items), self._bytes, item[2]):
            self._push(item)
        else:
            self.overflow()

    async def put(self, item: Item, owner: Subscription | None = None) -> bool:
        """Queue, waiting for room (backpressure for catch-up and control messages). Given
        the `owner` subscription of an event, queue it only while that subscription holds
        its job: whether it was queued. A catch-up that outlived its subscription (an
        unsubscribe, a new subscribe) queues nothing more."""
        while not self._fits(len(self._items), self._bytes, item[2]):
            self._writable.clear()
            await self._writable.wait()
        if owner is not None and self.subscriptions.get(item[0] or "") is not owner:
            return False
        self._push(item)
        return True

    async def get(self) -> Item:
        while not self._items:
            self._readable.clear()
            await self._readable.wait()
        item = self._items.popleft()
        self._bytes -= len(item[2])
        self._writable.set()
        return item

    async def get_many(self, max_bytes: int) -> list[Item]:
        """The items ready now, in order, up to `max_bytes` (at least one: waits for it)."""
        while not self._items:
            self._readable.clear()
            await self._readable.wait()
        items = [self._items.popleft()]
        size = len(items[0][2])
        while self._items and size + len(self._items[0][2]) <= max_bytes:
            item = self._items.popleft()
            size += len(item[2])
            items.append(item)
        self._bytes -= size
        self._writable.set()
        return items

    def deliver(self, job_id: str, seq: int, data: str) -> None:
        """Called by the reader; never blocks."""
        subscription = self.subscriptions.get(job_id)
        if subscription is None or self.overflowed:
            return
        if subscription.live:
            self.offer((job_id, seq, data))
            return
        if self._fits(len(subscription.pending), subscription.pending_bytes, data):
            subscription.pending.append((seq, data))
            subscription.pending_bytes += len(data)
        else:
            self.overflow()

    def fail(self, job_id: str, error: str) -> None:
        """End one subscription with an error (a `WireError`'s JSON) instead of events."""
        if job_id in self.subscriptions:
            self.offer((job_id, LOST, error))

    def overflow(self) -> None:
        if not self.overflowed:
            self.overflowed = True
            self._on_overflow()

    async def send_control(self, data: str, starts: str | None = None) -> None:
        """Queue a control message; `starts`: the job whose subscription it starts."""
        await self.put((starts, STARTS, data) if starts else (None, 0, data))
