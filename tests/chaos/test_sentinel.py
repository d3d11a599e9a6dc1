"""Redis behind Sentinel: the edge and the workers follow the master through a failover, on
`REDIS_URL=redis+sentinel://…` alone. With the commit points waiting for the replica, a job
accepted before the master is killed is neither lost nor run twice to two ends."""

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.client import assert_complete, get_job, ws_follow
from tests.support.stack import Edge, Stack, auth
from tests.support.topology import Topology
from tests.support.wait import wait_for

pytestmark = pytest.mark.chaos

WAIT = {"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT_MS": "2000"}
BODY = {"model": "sim", "input": {"messages": [{"role": "user", "content": "hi"}]}}


def _accepted(edge: Edge) -> str | None:
    """A job's id once the edge takes it (during a failover it answers 503)."""
    try:
        response = httpx.post(f"{edge.url}/v1/jobs", json=BODY, headers=auth(), timeout=10)
    except httpx.HTTPError:
        return None
    if response.status_code == 503:
        return None
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def assert_ends_once_through_resets(events: list[dict[str, Any]]) -> None:
    """Seqs strictly increase, any gap is followed by a `job-reset`, one `job-end`, last."""
    for previous, event in itertools.pairwise(events):
        assert event["seq"] > previous["seq"], events
        if event["seq"] != previous["seq"] + 1:
            assert event["type"] == "job-reset", events
    assert [event["type"] for event in events].count("job-end") == 1
    assert events[-1]["type"] == "job-end" and events[-1]["status"] == "succeeded", events


def _submit(edge: Edge, what: str) -> str:
    job_id = wait_for(lambda: _accepted(edge), timeout=60, what=what)
    assert job_id is not None
    return job_id


async def test_services_follow_the_master_through_a_failover(
    new_topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    topology = new_topology("sentinel")
    stack = Stack(topology.url, tmp_path)
    try:
        edge = stack.edge(env={f"EDGE_{name}": value for name, value in WAIT.items()})
        # A short lease: a job whose start the failover lost is fenced for its worker and
        # runs again once the lease ends (see docs/operations.md).
        worker_env = {f"WORKER_{name}": value for name, value in WAIT.items()}
        stack.worker("sim", env={**worker_env, "WORKER_LEASE_SECONDS": "2"})
        before = _submit(edge, "a first job")
        assert_complete(await ws_follow(edge, before))

        queued = _submit(edge, "a job accepted before the kill")
        [master] = topology.masters
        topology.kill(master)
        topology.wait_for_failover(master)

        # The job accepted before the kill (on the replica by then) ends exactly once. If
        # the failover lost the end of its log, its worker started it again: the seqs skip
        # what was lost and go on with a `job-reset` (never a seq issued twice).
        events = await asyncio.wait_for(ws_follow(edge, queued), 60)
        assert_ends_once_through_resets(events)
        # New jobs go to the new master.
        after = _submit(edge, "a job after the failover")
        assert_complete(await asyncio.wait_for(ws_follow(edge, after), 60))
        assert get_job(edge, before)["status"] == "succeeded"
    finally:
        stack.close()
