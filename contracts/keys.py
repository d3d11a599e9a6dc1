"""Every Redis key and stream name Relayline uses, in one place.

No other module spells a key: they all ask a `Keys` built from the configured prefix, so two
deployments (or two tests) can share one Redis server without seeing each other.

A user's *limit* keys (unfinished jobs, stored output, request rate) are built from its
`account`: the user itself, except that all guests of one client address share one account.
Ownership keys (a user's job index, idempotency keys, a job's `owner`) keep the full user id.

**Shards.** Every key of a job, of its owner's account and of the pool queue that holds it
carries one hash tag, `{<tag>}`, so each event-log script touches one slot of a Redis Cluster
(and one server alike: the layout is the same everywhere, so moving to a Cluster moves no key).
A deployment has `shards` shards (S, fixed when its Redis is first used, see `check_layout`):
an account's shard is `crc32(account) mod S`, a job's id starts with its shard as 4 hex digits,
and each pool has one job stream (and stats and dead-letter stream) per shard. Shard i's tag is
the first of "0", "1", "2", ... whose slot lies in the i-th of S equal slot ranges, so the
shards spread evenly over any Cluster's masters.
"""

import functools
import re
import secrets
import zlib
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

GROUP = "workers"
"""The consumer group every worker pool reads its job stream through."""

GUEST_PREFIX = "guest-"
"""Guest users are `guest-<tag>-<random>`: `<tag>` is `GUEST_TAG_LENGTH` hex characters of a
keyed hash of the client address the id was minted for (see `edge.identity`)."""
GUEST_TAG_LENGTH = 12
_GUEST_ACCOUNT = re.compile(rf"{GUEST_PREFIX}[0-9a-f]{{{GUEST_TAG_LENGTH}}}(?=-.)", re.DOTALL)


def account(user: str) -> str:
    """Whose limits a user's requests count against: `guest-<tag>` for a guest
    `guest-<tag>-<random>` (every guest of one client address alike), the user itself for
    anyone else (a keyed user, or an id of any other shape).

    A pure function of the user id, so the edge and the workers find the same limit keys
    from a job's owner. (Issue 10: a shard chosen from the owner must be chosen from its
    account, or one address' guests would need their shared counters in several slots.)"""
    match = _GUEST_ACCOUNT.match(user)
    return match.group() if match else user


DEFAULT_SHARDS = 8
"""S for a new deployment: room for a Cluster of up to 8 masters (see docs/operations.md)."""
MAX_SHARDS = 256
ShardCount = Annotated[int, Field(ge=1, le=MAX_SHARDS)]
"""The range of the services' shard setting (`RELAYLINE_SHARDS`)."""
KeyPrefix = Annotated[str, Field(max_length=64, pattern=r"^[^{}]*$")]
"""The range of the key prefix setting (`RELAYLINE_PREFIX`): no braces, which would move the
hash tag."""
SHARD_DIGITS = 4
"""A job id's first 4 hex digits name its shard."""
_LOWER_HEX = frozenset("0123456789abcdef")


@functools.cache
def shard_tags(shards: int) -> tuple[str, ...]:
    """The hash tag of each of `shards` shards (see the module's doc)."""
    tags = []
    candidate = 0
    for shard in range(shards):
        low = shard * REDIS_CLUSTER_HASH_SLOTS // shards
        high = (shard + 1) * REDIS_CLUSTER_HASH_SLOTS // shards
        while not low <= key_slot(str(candidate).encode()) < high:
            candidate += 1
        tags.append(str(candidate))
        candidate = 0
    return tuple(tags)


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "rl:"
    shards: int = DEFAULT_SHARDS

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError("the key prefix may not contain braces: they would move the hash tag")
        if not 1 <= self.shards <= MAX_SHARDS:
            raise ValueError(f"shards must be between 1 and {MAX_SHARDS}")

    # -- shards ----------------------------------------------------------------------------

    def shard_of_user(self, user: str) -> int:
        """The shard of a user's `account` (all guests of one address share it)."""
        return zlib.crc32(account(user).encode()) % self.shards

    def shard_of_job(self, job_id: str) -> int:
        """The shard a job id names (any other string still maps to one, deterministically)."""
        head = job_id[:SHARD_DIGITS]
        if len(head) == SHARD_DIGITS and _LOWER_HEX.issuperset(head):
            return int(head, 16) % self.shards
        return zlib.crc32(job_id.encode()) % self.shards

    def new_job_id(self, owner: str) -> str:
        """A fresh job id (32 hex digits) in its owner's shard."""
        return f"{self.shard_of_user(owner):0{SHARD_DIGITS}x}{secrets.token_hex(14)}"

    def _in(self, shard: int) -> str:
        return f"{self.prefix}{{{shard_tags(self.shards)[shard]}}}:"

    # -- a pool, per shard -----------------------------------------------------------------

    def jobs(self, pool: str, shard: int) -> str:
        """Stream of one shard's job envelopes for one pool (consumer group `workers`)."""
        return f"{self._in(shard)}jobs:{pool}"

    def job_streams(self, pool: str) -> list[str]:
        """Every shard's job stream of a pool, by shard."""
        return [self.jobs(pool, shard) for shard in range(self.shards)]

    def waiting(self, pool: str, shard: int, priority: str) -> str:
        """Sorted set: one shard's jobs of a pool waiting at one priority (`interactive`,
        `batch`), scored by their virtual start time (see `contracts.queue`)."""
        return f"{self._in(shard)}wait:{pool}:{priority}"

    def finish_tags(self, pool: str, shard: int, priority: str) -> str:
        """Sorted set: the virtual finish time of each account's last waiting job at one
        priority; an account whose finish time the queue's clock has passed is dropped, and
        the whole set once nothing waits at that priority."""
        return f"{self._in(shard)}tags:{pool}:{priority}"

    def queue_state(self, pool: str, shard: int) -> str:
        """Hash: one shard's queue of a pool: its virtual clock per priority (`v:<priority>`),
        when batch jobs last had a turn or began to wait (`batch_at`), each account's waiting
        jobs (`n:<priority>:<account>`) and the weight it counts with while some wait
        (`w:<priority>:<account>`), and their sum (`w:<priority>`)."""
        return f"{self._in(shard)}queue:{pool}"

    def ready(self, pool: str, shard: int) -> str:
        """Stream of one entry: bumped by every submit, so idle workers wake to a new job."""
        return f"{self._in(shard)}ready:{pool}"

    def job_key_prefix(self, shard: int) -> str:
        """What a job's record key is in `shard`, but its id (for a script that finds the
        records of the jobs it pops: they share the shard's slot)."""
        return f"{self._in(shard)}job:"

    def dead(self, pool: str, shard: int) -> str:
        """Stream: one shard's jobs of a pool that failed delivery too many times."""
        return f"{self._in(shard)}dead:{pool}"

    def pool_stats(self, pool: str, shard: int) -> str:
        """Hash: how many jobs of a pool in one shard ended, by status (succeeded, failed,
        cancelled); the pool's figures are the sum over its shards."""
        return f"{self._in(shard)}stats:{pool}"

    def wake(self, shard: int, edge: str) -> str:
        """Stream: wakes one edge's blocking reader of a shard when its watched logs change."""
        return f"{self._in(shard)}wake:{edge}"

    def layout(self) -> str:
        """String: the deployment's shard count, written once (see `check_layout`)."""
        return f"{self.prefix}layout"

    # -- a job ------------------------------------------------------------------------------

    def job(self, job_id: str) -> str:
        """Hash: the job record."""
        return f"{self.job_key_prefix(self.shard_of_job(job_id))}{job_id}"

    def events(self, job_id: str) -> str:
        """Stream: the job's event log; entry ids are `0-<seq>`."""
        return f"{self.events_key_prefix(self.shard_of_job(job_id))}{job_id}"

    def events_key_prefix(self, shard: int) -> str:
        """What a job's event log key is in `shard`, but its id (see `job_key_prefix`)."""
        return f"{self._in(shard)}events:"

    # -- a user, in its account's shard -----------------------------------------------------

    def user_jobs(self, user: str) -> str:
        """Sorted set: a user's job ids scored by creation time."""
        return f"{self._in(self.shard_of_user(user))}user:{user}:jobs"

    def user_active(self, user: str) -> str:
        """Counter: how many jobs of a user's `account` have not ended (per-user limit)."""
        return f"{self._in(self.shard_of_user(user))}user:{account(user)}:active"

    def user_stored(self, user: str) -> str:
        """Hash with a TTL: the bucket of stored output of a user's `account` (`level`
        bytes at `at`, unix seconds of Redis's clock), draining at budget / retention; see
        `contracts.log`."""
        return f"{self._in(self.shard_of_user(user))}user:{account(user)}:stored"

    def rate_user(self, user: str) -> str:
        """String with a TTL: the request bucket of a user's `account` (GCRA: the theoretical
        arrival time, unix ms to the microsecond; `contracts.gcra`). In the account's shard,
        so `SUBMIT` takes a submit's token in the same script."""
        return f"{self._in(self.shard_of_user(user))}user:{account(user)}:rate"

    def idempotency(self, user: str, key: str) -> str:
        """String: the job id an idempotency key of one user maps to."""
        return f"{self._in(self.shard_of_user(user))}idem:{user}:{key}"

    def ui_chat(self, user: str, chat_id: str) -> str:
        """String with a TTL: the id of the latest job of one user's AI SDK chat (`useChat`'s
        id), which `GET /v1/ui/chat/{chat_id}/stream` resumes and `.../stop` cancels. The
        user's length comes first, so no user and chat id pair can spell another's key."""
        return f"{self._in(self.shard_of_user(user))}uichat:{len(user)}:{user}:{chat_id}"

    # -- token usage, in its account's shard (see `contracts.usage`) ------------------------

    def usage(self, user: str, day: str) -> str:
        """Hash with a TTL: the tokens and jobs of a user's `account` on one UTC day
        (`YYYY-MM-DD`), fields `<model>:prompt`, `<model>:completion`, `<model>:jobs`."""
        return f"{self._in(self.shard_of_user(user))}user:{account(user)}:usage:{day}"

    def quota_used(self, user: str, window: int) -> str:
        """Counter with a TTL: the tokens a user's `account` used in the quota window that
        starts at `window` (unix seconds, a multiple of the window's length)."""
        return f"{self._in(self.shard_of_user(user))}user:{account(user)}:quota:{window}"

    def usage_accounts(self, shard: int, day: str) -> str:
        """Set with a TTL: the accounts of one shard that were charged on one UTC day, so an
        operator lists every user's usage without scanning."""
        return f"{self._in(shard)}usage:accounts:{day}"

    # -- everything else: one key each, no shard -------------------------------------------

    def workers(self, pool: str) -> str:
        """Sorted set: worker ids of a pool scored by their last heartbeat (unix seconds)."""
        return f"{self.prefix}workers:{pool}"

    def model_limits(self, pool: str) -> str:
        """String: the `ModelLimits` JSON the pool's workers publish."""
        return f"{self.prefix}limits:{pool}"

    def rate_guest_ids(self, address: str) -> str:
        """String: the bucket of new guest ids minted for one client address (or /64)."""
        return f"{self.prefix}rate:guests:{address}"

    def worker(self, worker_id: str) -> str:
        """Hash: what one worker announced about itself (pool, model, limits)."""
        return f"{self.prefix}worker:{worker_id}"

    def ticket(self, digest: str) -> str:
        """String with a TTL: the user and purpose of a stream ticket, by the SHA-256 of the
        ticket (so the keyspace holds no usable ticket); deleted when it is used."""
        return f"{self.prefix}ticket:{digest}"


def event_entry_id(seq: int) -> str:
    """The stream entry id of the event with this seq: `0-<seq>`."""
    return f"0-{seq}"


def seq_of_entry_id(entry_id: bytes | str) -> int:
    """The seq of an event from its stream entry id (`0-<seq>`)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[2])
