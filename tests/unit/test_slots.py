"""A worker's slots go to the shard readers by priority, then in proportion to their
shards' weights (`worker.slots`)."""

import asyncio
import time
from collections import Counter

import pytest

from tests.support.wait import async_wait_for
from worker.slots import Claim, Claimant, Slots


async def grants(slots: Slots, claims: dict[str, Claim], count: int) -> list[str]:
    """Readers that always have work claim a slot again as soon as theirs is given; the
    order slots are given in, one at a time, for `count` slots."""
    order: list[str] = []
    claimants = {name: Claimant() for name in claims}

    async def reader(name: str) -> None:
        while True:
            await slots.take(claimants[name], claims[name])
            order.append(name)
            await asyncio.sleep(0)  # its take, during which the next slot may free
            slots.taken(claimants[name], claims[name])  # its shard still has work

    for name, claim in claims.items():  # every reader's shard has work (a take said so)
        slots.taken(claimants[name], claim)
    assert slots.try_take()  # the one slot is busy: every slot from here on is a freed one
    tasks = [asyncio.create_task(reader(name)) for name in claims]
    await asyncio.sleep(0)
    for _ in range(count):
        slots.release()  # a job ended: its slot goes to the next claim
        await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return order[:count]


def test_busy_shards_share_the_slots_by_weight() -> None:
    async def main() -> list[str]:
        slots = Slots(1)
        claims = {"heavy": Claim(True, 3.0), "light": Claim(True, 1.0)}
        return await grants(slots, claims, 400)

    counts = Counter(asyncio.run(main()))
    assert counts["heavy"] == pytest.approx(3 * counts["light"], rel=0.05)


def test_an_interactive_claim_goes_before_every_batch_claim() -> None:
    async def main() -> list[str]:
        slots = Slots(1, batch_aging=3600)
        claims = {"batch": Claim(False, 50.0), "chat": Claim(True, 1.0)}
        return await grants(slots, claims, 50)

    assert set(asyncio.run(main())) == {"chat"}


def test_a_batch_claim_that_waited_its_aging_time_goes_first() -> None:
    async def main() -> list[str]:
        aging = 0.001
        slots = Slots(1, batch_aging=aging)
        assert slots.try_take()  # the one slot is busy
        batch = asyncio.create_task(slots.take(Claimant(), Claim(False, 1.0)))
        aged_at = time.monotonic() + aging

        async def aged() -> bool:  # the batch claim has waited its aging time
            return time.monotonic() > aged_at

        await async_wait_for(aged, what="the batch claim's aging time")
        chat = asyncio.create_task(slots.take(Claimant(), Claim(True, 1.0)))
        await asyncio.sleep(0)
        slots.release()
        await asyncio.sleep(0)
        done = ["batch" if batch.done() else "", "chat" if chat.done() else ""]
        chat.cancel()
        await asyncio.gather(batch, chat, return_exceptions=True)
        return done

    assert asyncio.run(main()) == ["batch", ""]


def test_a_reader_stopped_while_it_waits_gives_nothing_away() -> None:
    async def main() -> int:
        slots = Slots(1)
        assert slots.try_take()
        waiting = asyncio.create_task(slots.take(Claimant(), Claim(True, 1.0)))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        slots.release()
        return slots.free

    assert asyncio.run(main()) == 1


def test_closed_slots_give_out_nothing() -> None:
    async def main() -> bool:
        slots = Slots(2)
        slots.close()
        waiting = asyncio.create_task(slots.take(Claimant(), Claim(True, 1.0)))
        for _ in range(3):  # a slot is given within take() itself, if at all
            await asyncio.sleep(0)
        given = waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        return given or slots.try_take()

    assert asyncio.run(main()) is False


def test_the_reaper_gets_the_next_slot_ahead_of_every_reader() -> None:
    async def main() -> list[str]:
        slots = Slots(1)
        assert slots.try_take()  # busy: the reader and the reaper both wait
        reader = asyncio.create_task(slots.take(Claimant(), Claim(True, 1000.0)))
        await asyncio.sleep(0)
        reaper = asyncio.create_task(slots.take_first())
        await asyncio.sleep(0)
        slots.release()
        await asyncio.sleep(0)
        done = [name for name, task in (("reader", reader), ("reaper", reaper)) if task.done()]
        reader.cancel()
        await asyncio.gather(reader, reaper, return_exceptions=True)
        return done

    assert asyncio.run(main()) == ["reaper"]


def test_extra_slots_go_to_a_reader_only_when_nobody_else_waits_for_them() -> None:
    async def main() -> None:
        slots = Slots(8)
        alone, other = Claimant(), Claimant()
        claim = Claim(True, 1.0)
        await slots.take(alone, claim)
        assert slots.extra(alone, 3) == 3  # nobody else claims: free slots, up to `most`
        assert slots.free == 4
        assert slots.extra(alone, 100) == 4  # never more than are free
        assert slots.free == 0 and slots.extra(alone, 1) == 0
        for _ in range(8):
            slots.release()
        slots.taken(alone, claim)  # its shard still has jobs: it claims again
        await slots.take(alone, claim)
        slots.taken(other, claim)  # another shard's reader found jobs left: it claims too
        assert slots.extra(alone, 3) == 0  # the other claim's slots are not taken from it
        assert slots.extra(alone, -1) == 0
        slots.close()
        assert slots.extra(alone, 3) == 0

    asyncio.run(main())


def test_extra_slots_are_charged_to_the_readers_pass() -> None:
    async def main() -> float:
        slots = Slots(8)
        reader = Claimant()
        await slots.take(reader, Claim(True, 2.0))
        before = reader.passed
        assert slots.extra(reader, 4) == 4
        return reader.passed - before

    assert asyncio.run(main()) == pytest.approx(4 / 2.0)
