"""Slots: the jobs one worker process runs at once, and which shard gets the next free one.

A worker runs `concurrency` jobs at once over every shard of its pool: its shard readers and
its reaper draw on one `Slots`. A reader whose shard has jobs waiting asks for a slot with a
`Claim`: the priority of the shard's best waiting job and the shard's weight (the summed
weights of the accounts with jobs waiting there, as the shard's queue reports them). A slot
that frees goes to the claim that comes first:

1. a claim for an interactive job, or for a batch job that has waited for a slot for
   `batch_aging` seconds, before any other batch claim (so an interactive job in one shard
   is not kept waiting by a batch backlog in another);
2. then the lowest virtual start: a reader's start is its own pass (for a reader back from
   idle, the later of its pass and the slots' clock); a grant moves the clock to it and the
   reader's pass `1 / weight` past it.
   So busy shards share a worker's slots in proportion to their weights, and an account's
   share of the pool is its weight over the weights of everyone waiting, whichever shard
   it is in (the shard's queue shares the shard's turns among its accounts the same way).

The reaper takes slots only when they are free at once (`try_take`): its claims are jobs a
worker lost, run under slots nobody waited for.
"""

import asyncio
import itertools
import time
from dataclasses import dataclass

MIN_WEIGHT = 0.01
"""The least weight a claim counts with (a tier's weight is at least this)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a reader's shard has waiting, as its queue last said."""

    interactive: bool
    weight: float


class Claimant:
    """A reader's place in the slots' order."""

    def __init__(self) -> None:
        self.passed = 0.0
        self.backlogged = False
        """Whether its shard had jobs left at its last take: it claims again at once, and
        keeps its pass (the time it spent taking is no turn given up)."""


class Slots:
    """The jobs one worker process runs at once, shared by its shard readers and its reaper."""

    def __init__(self, size: int, batch_aging: float = 30.0) -> None:
        self.size = size
        self.free = size
        self.closed = False
        self.batch_aging = batch_aging
        self.clock = 0.0
        self._waiting: dict[asyncio.Future[bool], tuple[Claimant, Claim, float, int]] = {}
        self._order = itertools.count()

    async def take(self, claimant: Claimant, claim: Claim) -> None:
        """Wait until a slot is given to this claim (for ever once the slots are closed)."""
        granted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[granted] = (claimant, claim, time.monotonic(), next(self._order))
        self._grant()
        try:
            await granted
        except asyncio.CancelledError:  # a slot given as its reader stopped goes back
            if granted.done() and not granted.cancelled() and granted.result():
                self.release()
            raise
        finally:
            self._waiting.pop(granted, None)

    def try_take(self) -> bool:
        """Take a free slot at once, or say there is none (nobody waits for a free slot)."""
        if self.closed or not self.free:
            return False
        self.free -= 1
        return True

    def release(self) -> None:
        self.free = min(self.free + 1, self.size)
        self._grant()

    def close(self) -> None:
        """Give out no more slots (the worker is draining): readers wait until stopped."""
        self.closed = True

    def _grant(self) -> None:
        while self.free and self._waiting and not self.closed:
            now = time.monotonic()
            granted = min(self._waiting, key=lambda future: self._rank(future, now))
            claimant, claim, _, _ = self._waiting.pop(granted)
            if granted.done():  # its reader was cancelled while it waited
                continue
            start = self._start(claimant)
            self.clock = max(self.clock, start)
            claimant.passed = start + 1 / claim.weight
            self.free -= 1
            granted.set_result(True)

    def _rank(self, future: asyncio.Future[bool], now: float) -> tuple[int, float, int]:
        claimant, claim, since, order = self._waiting[future]
        first = claim.interactive or now - since >= self.batch_aging
        return (0 if first else 1, self._start(claimant), order)

    def _start(self, claimant: Claimant) -> float:
        """A claim's virtual start: its pass, or the clock for a reader back from idle (so
        idling earns no credit)."""
        return claimant.passed if claimant.backlogged else max(claimant.passed, self.clock)
