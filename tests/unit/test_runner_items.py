"""The queue between a job's engine and its runner (in process): text that comes while a
coalescing window runs does not wake the runner; anything else, and a full queue, does."""

import asyncio

from worker.engines.base import Progress, Text
from worker.runner import Items


async def _waiting(items: Items) -> "asyncio.Task[bool]":
    """The runner's wait, started (it is only ever called with the queue empty)."""
    waiter = asyncio.create_task(items.wait(60))
    await asyncio.sleep(0)
    return waiter


async def _woken(waiter: "asyncio.Task[bool]") -> bool:
    """Whether `waiter` finished once the tasks that are ready have run."""
    for _ in range(3):  # a woken task needs a turn of the loop or two to finish
        await asyncio.sleep(0)
    return waiter.done()


async def test_text_in_a_running_window_is_queued_without_waking_the_runner() -> None:
    items = Items(8)
    items.quiet = True
    waiter = await _waiting(items)
    await items.put(Text("a"))
    await items.put(Text("b"))
    assert not await _woken(waiter)
    await items.put(Progress(1, 2))  # anything but text wakes it
    assert await _woken(waiter)
    assert [items.get() for _ in range(3)] == [Text("a"), Text("b"), Progress(1, 2)]


async def test_text_outside_a_window_wakes_the_runner() -> None:
    items = Items(8)
    waiter = await _waiting(items)
    await items.put(Text("a"))
    assert await _woken(waiter)
    assert waiter.result() is True


async def test_a_wait_that_nothing_ends_ends_after_its_timeout() -> None:
    items = Items(8)
    items.quiet = True
    loop = asyncio.get_running_loop()
    began = loop.time()
    waiting = asyncio.create_task(items.wait(0.05))
    await items.put(Text("a"))  # in a window: no wake
    assert await asyncio.wait_for(waiting, 5) is False
    assert loop.time() - began >= 0.05
    assert items.get() == Text("a")
    assert await asyncio.wait_for(items.wait(0), 5) is False  # no time left: at once


async def test_a_cancelled_wait_leaves_no_waiter_behind() -> None:
    items = Items(8)
    waiter = await _waiting(items)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert waiter.cancelled()
    await items.put(Text("a"))  # wakes no one, raises nothing
    assert await asyncio.wait_for(items.wait(0.01), 5) is False  # queued before the wait


async def test_a_full_queue_wakes_the_runner_in_a_window_and_waits_for_room() -> None:
    items = Items(2)
    items.quiet = True
    waiter = await _waiting(items)
    await items.put(Text("a"))
    await items.put(Text("b"))
    assert not await _woken(waiter)
    third = asyncio.create_task(items.put(Text("c")))
    assert await _woken(waiter)  # the runner is woken to make room
    assert not third.done()  # the engine waits for it
    assert items.get() == Text("a")
    await asyncio.wait_for(third, 5)
    assert [items.get(), items.get()] == [Text("b"), Text("c")]
