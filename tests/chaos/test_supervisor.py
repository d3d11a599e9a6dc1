"""`relayline up` keeps its workers running: one that dies is started again (with backoff),
and the jobs it held are reclaimed by its successor."""

from pathlib import Path

import httpx
import pytest

from tests.chaos.conftest import CHAOS_POOLS, FAST_RECOVERY
from tests.support.up import LOCAL_AUTH, relayline_up
from tests.support.wait import wait_for

pytestmark = pytest.mark.chaos


def test_relayline_up_restarts_a_worker_that_dies(tmp_path: Path) -> None:
    pools = tmp_path / "pools.toml"
    quick = CHAOS_POOLS.read_text().split("[pools.quick]")[1].split("[pools.")[0]
    pools.write_text(f"[pools.quick]{quick}")
    with relayline_up(tmp_path, RELAYLINE_POOLS=str(pools), **FAST_RECOVERY) as up:

        def submit(prompt: str) -> str:
            body = {"model": "quick", "input": {"messages": [{"role": "user", "content": prompt}]}}
            response = httpx.post(f"{up.base}/v1/jobs", json=body, headers=LOCAL_AUTH)
            return str(response.json()["id"])

        def ended(job_id: str) -> dict[str, object] | None:
            url = f"{up.base}/v1/jobs/{job_id}"
            record: dict[str, object] = httpx.get(url, headers=LOCAL_AUTH).json()
            return record if record["status"] in ("succeeded", "failed") else None

        up.wait_pools_live(["quick"])
        poison = submit("POISON")  # kills the worker on every delivery
        record = wait_for(lambda: ended(poison), timeout=90, what="the poison job to end")
        assert record is not None
        error = record["error"]
        assert isinstance(error, dict)
        assert error["code"] == "dead_lettered"
        assert "starting another" in up.log()
        after = submit("a normal job")
        record = wait_for(lambda: ended(after), timeout=60, what="a job after the crashes")
        assert record is not None
        assert record["status"] == "succeeded"
