"""The outbox of one client is bounded in events and in bytes (in process)."""

import asyncio

from edge.outbox import Outbox, Subscription


async def test_an_outbox_overflows_on_bytes_as_well_as_events() -> None:
    cut: list[bool] = []
    outbox = Outbox(size=1000, max_bytes=100, on_overflow=lambda: cut.append(True))
    outbox.subscriptions["j"] = Subscription(live=True)
    outbox.deliver("j", 1, "x" * 60)
    assert not cut
    outbox.deliver("j", 2, "x" * 60)  # 120 bytes would be queued: the client is cut off
    assert cut == [True] and outbox.overflowed


async def test_one_large_event_passes_alone_and_catch_up_waits_for_room() -> None:
    outbox = Outbox(size=1000, max_bytes=100, on_overflow=lambda: None)
    await outbox.put(("j", 1, "x" * 500))  # larger than the bound, but the queue is empty
    second = asyncio.create_task(outbox.put(("j", 2, "y" * 10)))
    # waits for room: still pending after a while, not merely after one turn of the loop
    _, pending = await asyncio.wait({second}, timeout=0.2)
    assert second in pending
    assert (await outbox.get())[1] == 1
    await asyncio.wait_for(second, 5)
    assert (await outbox.get())[1] == 2


async def test_a_sender_takes_every_ready_item_in_order_up_to_a_size() -> None:
    outbox = Outbox(size=1000, max_bytes=1000, on_overflow=lambda: None)
    outbox.subscriptions["j"] = Subscription(live=True)
    for seq in range(1, 6):
        outbox.deliver("j", seq, "x" * 30)
    assert [seq for _, seq, _ in await outbox.get_many(100)] == [1, 2, 3]
    assert [seq for _, seq, _ in await outbox.get_many(1000)] == [4, 5]
    outbox.deliver("j", 6, "x" * 500)  # larger than the size asked: taken alone
    assert [seq for _, seq, _ in await outbox.get_many(100)] == [6]
    # the room taken is given back: a full outbox takes events again
    full = Outbox(size=2, max_bytes=1000, on_overflow=lambda: None)
    full.subscriptions["j"] = Subscription(live=True)
    full.deliver("j", 1, "a")
    full.deliver("j", 2, "b")
    await full.get_many(1000)
    full.deliver("j", 3, "c")
    full.deliver("j", 4, "d")
    assert not full.overflowed


async def test_a_catch_up_that_outlived_its_subscription_queues_nothing() -> None:
    outbox = Outbox(size=4, max_bytes=1000, on_overflow=lambda: None)
    first = outbox.subscriptions["job"] = Subscription()
    assert await outbox.put(("job", 1, "a"), first)
    second = outbox.subscriptions["job"] = Subscription()  # subscribed again
    assert not await outbox.put(("job", 2, "b"), first)
    assert await outbox.put(("job", 1, "c"), second)
    del outbox.subscriptions["job"]  # unsubscribed
    assert not await outbox.put(("job", 2, "d"), second)
    assert [await outbox.get() for _ in range(2)] == [("job", 1, "a"), ("job", 1, "c")]
    assert not outbox._items
