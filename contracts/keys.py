"""Every Redis key and stream name Relayline uses, in one place.

No other module spells a key: they all ask a `Keys` built from the configured prefix, so two
deployments (or two tests) can share one Redis server without seeing each other.

A user's *limit* keys (unfinished jobs, stored output, request rate) are built from its
`account`: the user itself, except that all guests of one client address share one account.
Ownership keys (a user's job index, idempotency keys, a job's `owner`) keep the full user id.
"""

import re
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "rl:"

    def jobs(self, pool: str) -> str:
        """Stream of job envelopes for one pool (consumer group `workers`)."""
        return f"{self.prefix}jobs:{pool}"

    def job(self, job_id: str) -> str:
        """Hash: the job record."""
        return f"{self.prefix}job:{job_id}"

    def events(self, job_id: str) -> str:
        """Stream: the job's event log; entry ids are `0-<seq>`."""
        return f"{self.prefix}events:{job_id}"

    def dead(self, pool: str) -> str:
        """Stream: jobs that failed delivery too many times."""
        return f"{self.prefix}dead:{pool}"

    def user_jobs(self, user: str) -> str:
        """Sorted set: a user's job ids scored by creation time."""
        return f"{self.prefix}user:{user}:jobs"

    def user_active(self, user: str) -> str:
        """Counter: how many jobs of a user's `account` have not ended (per-user limit)."""
        return f"{self.prefix}user:{account(user)}:active"

    def user_stored(self, user: str) -> str:
        """Hash with a TTL: the bucket of stored output of a user's `account` (`level`
        bytes at `at`, unix seconds of Redis's clock), draining at budget / retention; see
        `contracts.log`."""
        return f"{self.prefix}user:{account(user)}:stored"

    def idempotency(self, user: str, key: str) -> str:
        """String: the job id an idempotency key of one user maps to."""
        return f"{self.prefix}idem:{user}:{key}"

    def workers(self, pool: str) -> str:
        """Sorted set: worker ids of a pool scored by their last heartbeat (unix seconds)."""
        return f"{self.prefix}workers:{pool}"

    def pool_stats(self, pool: str) -> str:
        """Hash: how many jobs of a pool ended, by status (succeeded, failed, cancelled)."""
        return f"{self.prefix}stats:{pool}"

    def model_limits(self, pool: str) -> str:
        """String: the `ModelLimits` JSON the pool's workers publish."""
        return f"{self.prefix}limits:{pool}"

    def rate_user(self, user: str) -> str:
        """String: the request bucket of a user's `account` (GCRA: the theoretical arrival
        time, unix ms)."""
        return f"{self.prefix}rate:user:{account(user)}"

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
