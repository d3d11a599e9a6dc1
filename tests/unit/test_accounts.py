"""`contracts.keys.account`: whose limits a user's requests count against. Every guest of one
client address is one account; anyone else, including ids a client might try to slip in, is
its own. The limit keys and an edge's count of streams go by the account."""

import pytest

from contracts.keys import Keys, account
from edge.connections import StreamSlots

TAG = "0123456789ab"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (f"guest-{TAG}-{'cd' * 16}", f"guest-{TAG}"),
        (f"guest-{TAG}-x", f"guest-{TAG}"),
        (f"guest-{TAG}-x-y", f"guest-{TAG}"),
        (f"guest-{TAG}-\n", f"guest-{TAG}"),
        ("alice", "alice"),
        ("svc:a:b", "svc:a:b"),
        ("", ""),
        ("guest-", "guest-"),
        ("guest--x", "guest--x"),
        ("guest---", "guest---"),
        (f"guest-{TAG}", f"guest-{TAG}"),  # no random part: not a guest of the address
        (f"guest-{TAG}-", f"guest-{TAG}-"),
        (f"guest-{TAG[:-1]}-x", f"guest-{TAG[:-1]}-x"),  # a tag too short
        (f"guest-{TAG}c-x", f"guest-{TAG}c-x"),  # or too long
        (f"guest-{TAG.upper()}-x", f"guest-{TAG.upper()}-x"),
        (f"guest-{'ab' * 16}", f"guest-{'ab' * 16}"),  # the older form: its own account
        (f"GUEST-{TAG}-x", f"GUEST-{TAG}-x"),
        (f" guest-{TAG}-x", f" guest-{TAG}-x"),
        ("guest-" + "\u0660" * 12 + "-x", "guest-" + "\u0660" * 12 + "-x"),  # Arabic-Indic 0
        (f"guest-{'é' * 12}-x", f"guest-{'é' * 12}-x"),
        (f"guest-{TAG}\n-x", f"guest-{TAG}\n-x"),
        (f"alice-guest-{TAG}-x", f"alice-guest-{TAG}-x"),
    ],
)
def test_guests_of_one_address_share_an_account_and_nobody_else_does(
    user: str, expected: str
) -> None:
    assert account(user) == expected


def test_a_very_long_id_is_answered_at_once() -> None:
    long = "guest-" + "a" * 1_000_000
    assert account(long) == long
    assert account(f"guest-{TAG}-{'x' * 1_000_000}") == f"guest-{TAG}"


def test_limit_keys_are_the_accounts_and_ownership_keys_the_users() -> None:
    keys = Keys("p:")
    one, two = f"guest-{TAG}-{'1' * 32}", f"guest-{TAG}-{'2' * 32}"
    for limit_key in (keys.user_active, keys.user_stored, keys.rate_user):
        assert limit_key(one) == limit_key(two) == limit_key(f"guest-{TAG}")
        assert limit_key("alice") != limit_key("bob")
    assert keys.user_jobs(one) != keys.user_jobs(two)
    assert keys.idempotency(one, "k") != keys.idempotency(two, "k")
    assert keys.user_active("alice").endswith(":user:alice:active")  # keyed users: their own


def test_an_edges_stream_slots_count_the_guests_of_an_address_together() -> None:
    slots = StreamSlots(max_streams=100)
    one, two, three = (f"guest-{TAG}-{digit * 32}" for digit in "123")
    assert slots.acquire(one, 2) is None and slots.acquire(two, 2) is None
    refusal = slots.acquire(three, 2)
    assert refusal is not None and refusal.code == "too_many_connections"
    assert refusal.message.startswith("the guests of your network address have 2")
    assert len(refusal.reason().encode()) <= 123 and refusal.reason().endswith("allowed")
    assert slots.acquire(f"guest-{'f' * 12}-{'1' * 32}", 2) is None  # another address
    assert slots.acquire("alice", 2) is None and slots.acquire("bob", 2) is None
    slots.release(one)
    assert slots.acquire(three, 2) is None
    keyed = slots.acquire("alice", 1)
    assert keyed is not None and keyed.message.startswith("you have 1")
