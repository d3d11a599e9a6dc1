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

The reaper takes the slots free as it sweeps (`try_take`); when none is free and a worker's
job waits to be reclaimed, it waits for the next one ahead of every reader (`take_first`):
a dead worker's job does not wait for a backlog to drain.
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
    """A reader's place in the slots' order: one claim at a time."""

    def __init__(self) -> None:
        self.passed = 0.0
        self.claim: Claim | None = None
        self.backlogged = False
        """Whether its shard had jobs left at its last take: it claims again at once, keeps
        its pass, and a slot that frees on its turn while it takes is kept for it."""
        self.since = 0.0
        self.granted: asyncio.Future[None] | None = None
        """Set while it waits for a slot."""
        self.reserved = False


class Slots:
    """The jobs one worker process runs at once, shared by its shard readers and its reaper."""

    def __init__(self, size: int, batch_aging: float = 30.0) -> None:
        self.size = size
        self.free = size
        self.closed = False
        self.batch_aging = batch_aging
        self.clock = 0.0
        self._claims: dict[Claimant, int] = {}
        """Readers that wait for a slot, or take while backlogged; by arrival."""
        self._order = itertools.count()
        self._first: list[asyncio.Future[None]] = []
        """The reaper's waits for a slot: they come before every reader's claim."""

    async def take(self, claimant: Claimant, claim: Claim) -> None:
        """Wait until a slot is given to this claim (for ever once the slots are closed);
        then say what the take found with `taken`."""
        claimant.claim, claimant.since = claim, time.monotonic()
        if claimant.reserved:
            claimant.reserved = False
            self._charge(claimant, claim)
            return
        granted = asyncio.get_running_loop().create_future()
        claimant.granted = granted
        self._claims[claimant] = next(self._order)
        self._grant()
        try:
            await granted
        except asyncio.CancelledError:  # its reader stopped: nothing kept, nothing held
            self.taken(claimant, None)
            if granted.done() and not granted.cancelled():
                self.release()
            raise

    def taken(self, claimant: Claimant, claim: Claim | None) -> None:
        """A reader's take is done: its shard still has jobs waiting (`claim`: it claims
        again at once), or not (None: a slot kept for it goes back)."""
        claimant.granted = None
        claimant.backlogged = claim is not None
        if claim is not None:
            claimant.claim = claim
            self._claims.setdefault(claimant, next(self._order))
            return
        self._claims.pop(claimant, None)
        if claimant.reserved:
            claimant.reserved = False
            self.release()

    async def take_first(self) -> None:
        """Wait for the next slot ahead of every reader's claim: for the reaper, which has
        jobs of dead workers to run (they waited out a lease already)."""
        if not self.closed and self.free:
            self.free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._first.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted in self._first:
                self._first.remove(granted)
            elif granted.done() and not granted.cancelled():
                self.release()
            raise

    def extra(self, claimant: Claimant, most: int) -> int:
        """For a reader just granted a slot whose shard has more jobs waiting: up to `most`
        more free slots, to take as many more jobs in the same take; only slots no other
        claim (and no reaper) waits for, each charged to its pass as a grant is."""
        if self.closed or self._first or any(other is not claimant for other in self._claims):
            return 0
        count = max(0, min(most, self.free))
        self.free -= count
        assert claimant.claim is not None
        for _ in range(count):
            self._charge(claimant, claimant.claim)
        return count

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
        while self.free and self._first and not self.closed:
            self.free -= 1
            self._first.pop(0).set_result(None)
        while self.free and self._claims and not self.closed:
            now = time.monotonic()
            claimant = min(self._claims, key=lambda c: self._rank(c, now))
            self.free -= 1
            granted, claimant.granted = claimant.granted, None
            if granted is None:  # it is taking: the slot waits for its next claim
                claimant.reserved = True
                del self._claims[claimant]
                continue
            assert claimant.claim is not None
            self._charge(claimant, claimant.claim)
            if not claimant.backlogged:
                del self._claims[claimant]
            granted.set_result(None)

    def _charge(self, claimant: Claimant, claim: Claim) -> None:
        start = self._start(claimant)
        self.clock = max(self.clock, start)
        claimant.passed = start + 1 / claim.weight

    def _rank(self, claimant: Claimant, now: float) -> tuple[int, float, int]:
        claim = claimant.claim
        assert claim is not None
        first = claim.interactive or now - claimant.since >= self.batch_aging
        return (0 if first else 1, self._start(claimant), self._claims[claimant])

    def _start(self, claimant: Claimant) -> float:
        """A claim's virtual start: its pass, or the clock for a reader back from idle (so
        idling earns no credit)."""
        return claimant.passed if claimant.backlogged else max(claimant.passed, self.clock)
