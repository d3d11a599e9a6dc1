"""A Redis Cluster, on `REDIS_URL=redis+cluster://…` alone: two edges and two workers on a
3-master Cluster; users whose shards live on different masters each get their jobs streamed,
submitted on one edge and followed on the other, and each job's keys sit on its user's
master."""

import asyncio
from pathlib import Path
from typing import cast

import httpx
import pytest
from redis.cluster import RedisCluster

from tests.support.client import assert_complete, get_job, sse_follow, submit, ws_follow
from tests.support.cluster import owner_port
from tests.support.stack import Stack, auth
from tests.support.topology import Topology

pytestmark = pytest.mark.integration

USERS = ("alice", "bob", "carol")  # their shards' slots lie on three different masters


async def test_two_edges_and_two_workers_share_jobs_on_a_cluster(
    redis_cluster: Topology, tmp_path: Path
) -> None:
    stack = Stack(redis_cluster.url, tmp_path)
    try:
        one, two = stack.edge(), stack.edge()
        stack.worker("sim"), stack.worker("sim")
        cluster = cast(RedisCluster, stack.redis())
        keys = stack.keys
        seed = redis_cluster.masters[0].client()
        masters = {owner_port(seed, keys.user_jobs(user)) for user in USERS}
        assert len(masters) == 3  # the users' jobs land on every master

        jobs = {user: submit(one, user=user, params={"max_tokens": 12}) for user in USERS}
        transcripts = await asyncio.gather(
            *(ws_follow(two, job_id, user=user) for user, job_id in jobs.items())
        )
        for (user, job_id), transcript in zip(jobs.items(), transcripts, strict=True):
            assert_complete(transcript)
            assert transcript[-1]["status"] == "succeeded"
            assert get_job(one, job_id, user)["status"] == "succeeded"
            # the record, the log and the user's index sit on the user's master
            assert owner_port(seed, keys.job(job_id)) == owner_port(seed, keys.user_jobs(user))
            assert cluster.exists(keys.events(job_id)) == 1
            # a resume on the other edge gives exactly the rest
            assert sse_follow(one, job_id, user=user, after=3) == transcript[3:]

        # another user's job is a 404 on every edge, as on one server
        response = httpx.get(f"{two.url}/v1/jobs/{jobs['alice']}", headers=auth("bob"))
        assert response.status_code == 404
        # the models list sums the pool over its shards
        models = httpx.get(f"{two.url}/v1/models", headers=auth()).json()["data"]
        sim = next(model for model in models if model["id"] == "sim")
        assert sim["workers"] == 2 and sim["done"] >= len(USERS) and sim["queued"] == 0
    finally:
        stack.close()
