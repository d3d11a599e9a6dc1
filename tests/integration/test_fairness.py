"""Fair share across users on real edge and worker processes: a backlog does not delay
another user's job, weights share a busy pool, interactive jobs go before batch ones, and a
batch job still runs under sustained interactive load. Each holds for users in one shard
(the shard's queue decides) and in different shards (the worker's slots decide)."""

import itertools
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.support.stack import API_KEYS, LIFTED_LIMITS, Edge, Stack
from tests.support.wait import wait_for

JOB = {"model": "sim", "input": {"messages": [{"role": "user", "content": "go"}]}}
QUICK = {**JOB, "params": {"max_tokens": 2}}
"""A job of a few ms: the order they start in is what these tests look at."""


def users_for(stack: Stack, placement: str) -> tuple[str, str]:
    """Two users in the same shard, or in different shards."""
    keys = stack.keys
    first = "alice"
    same = placement == "same shard"
    second = next(
        user
        for n in itertools.count()
        if (keys.shard_of_user(user := f"user-{n}") == keys.shard_of_user(first)) == same
    )
    return first, second


def edge_for(stack: Stack, users: tuple[str, ...], env: dict[str, str] | None = None) -> Edge:
    keys = {**API_KEYS, **{f"{user}-key": user for user in users}}
    api_keys = ",".join(f"{key}:{user}" for key, user in keys.items())
    return stack.edge(env={**LIFTED_LIMITS, "EDGE_API_KEYS": api_keys, **(env or {})})


def header(user: str) -> dict[str, str]:
    known = {name: key for key, name in API_KEYS.items()}
    return {"Authorization": f"Bearer {known.get(user, f'{user}-key')}"}


def submit_many(edge: Edge, user: str, count: int, **extra: Any) -> list[str]:
    with httpx.Client(base_url=edge.url, headers=header(user), timeout=30) as client:
        ids = []
        for _ in range(count):
            response = client.post("/v1/jobs", json={**QUICK, **extra})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        return ids


def records(edge: Edge, user: str, ids: list[str]) -> list[dict[str, Any]]:
    with httpx.Client(base_url=edge.url, headers=header(user), timeout=30) as client:
        answers = [client.get(f"/v1/jobs/{job_id}") for job_id in ids]
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers][:3]
        return [a.json() for a in answers]


Jobs = dict[str, tuple[str, list[str]]]
"""Jobs by label: their user and ids."""


def all_succeeded(edge: Edge, jobs: Jobs) -> dict[str, list[dict[str, Any]]]:
    """The records of every job by label, once all have succeeded."""

    def done() -> dict[str, list[dict[str, Any]]]:
        found = {label: records(edge, user, ids) for label, (user, ids) in jobs.items()}
        every = [record for rows in found.values() for record in rows]
        assert not [r for r in every if r["status"] in ("failed", "cancelled")], every
        return found if all(r["status"] == "succeeded" for r in every) else {}

    return wait_for(done, timeout=120, what="every job to succeed")


def start_order(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Which label's job started first, second, ... (by the start times the worker wrote)."""
    rows = [(record["started_at"], label) for label, rows in found.items() for record in rows]
    return [label for _, label in sorted(rows)]


PLACEMENTS = ["same shard", "different shards"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_backlog_does_not_delay_another_users_job(stack: Stack, placement: str) -> None:
    flooder, other = users_for(stack, placement)
    edge = edge_for(stack, (flooder, other))
    backlog = submit_many(edge, flooder, 100)
    single = submit_many(edge, other, 1)
    stack.worker("sim", env={"WORKER_CONCURRENCY": "2"})
    order = start_order(
        all_succeeded(edge, {"backlog": (flooder, backlog), "one": (other, single)})
    )
    after = len(order) - 1 - order.index("one")  # the backlog's jobs that started after it
    assert after >= 75, f"{other}'s job started after {100 - after} of the backlog's 100"


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_two_flooding_users_share_the_pool_by_weight(stack: Stack, placement: str) -> None:
    heavy, light = users_for(stack, placement)
    tier = {
        "requests_per_second": 1e6,
        "burst": 10**7,
        "max_streams": 1000,
        "max_active_jobs": 10**6,
        "weight": 3,
    }
    env = {"EDGE_LIMIT_TIERS": json.dumps({"heavy": tier}), "EDGE_USER_TIERS": f"{heavy}:heavy"}
    edge = edge_for(stack, (heavy, light), env)
    jobs = {
        "heavy": (heavy, submit_many(edge, heavy, 80)),
        "light": (light, submit_many(edge, light, 80)),
    }
    stack.worker("sim", env={"WORKER_CONCURRENCY": "2"})
    order = start_order(all_succeeded(edge, jobs))
    # 60 jobs while both still have jobs waiting, past the worker's first take from each
    # shard (made before it knows what the shards hold)
    served = Counter(order[8:68])
    assert 2.55 <= served["heavy"] / served["light"] <= 3.45, served


@pytest.mark.parametrize("flooder", ["carol", "alice"])
def test_a_batch_flood_delays_an_interactive_job_by_at_most_one_job_per_slot(
    stack: Stack, flooder: str
) -> None:
    slots = 2
    edge = edge_for(stack, ())
    flood = submit_many(edge, flooder, 40, priority="batch", params={"max_tokens": 20})
    stack.worker("sim", env={"WORKER_CONCURRENCY": str(slots)})
    wait_for(
        lambda: sum(r["status"] != "queued" for r in records(edge, flooder, flood)) >= 4,
        what="the batch flood to be running",
    )
    chat = submit_many(edge, "alice", 1)
    found = all_succeeded(edge, {"flood": (flooder, flood), "chat": ("alice", chat)})
    [record] = found["chat"]
    between = [r for r in found["flood"] if record["created_at"] < r["started_at"]]
    between = [r for r in between if r["started_at"] < record["started_at"]]
    assert len(between) <= slots, between  # at most the slots that freed as it came
    later = [r for r in found["flood"] if r["started_at"] > record["started_at"]]
    assert len(later) >= 10  # it went ahead of the flood's waiting jobs
    assert record["priority"] == "interactive"
    assert {r["priority"] for r in found["flood"]} == {"batch"}


def test_batch_jobs_still_run_under_sustained_interactive_load(stack: Stack) -> None:
    edge = edge_for(stack, ())
    chats = submit_many(edge, "alice", 90)
    batch = submit_many(edge, "carol", 2, priority="batch")
    stack.worker("sim", env={"WORKER_CONCURRENCY": "1", "WORKER_BATCH_AGING_SECONDS": "0.2"})
    order = start_order(all_succeeded(edge, {"batch": ("carol", batch), "chat": ("alice", chats)}))
    # Both batch jobs ran while interactive jobs still waited (their aging time passed).
    last_batch = len(order) - 1 - order[::-1].index("batch")
    assert order[last_batch:].count("chat") >= 40, order
