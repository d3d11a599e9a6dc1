"""`relayline up` keeps its workers running: one that dies is started again (with backoff),
and the jobs it held are reclaimed by its successor."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from relayline.redis_server import free_port
from tests.chaos.conftest import CHAOS_POOLS, FAST_RECOVERY
from tests.support.wait import wait_for

pytestmark = pytest.mark.chaos

AUTH = {"Authorization": "Bearer local-dev-key"}


def test_relayline_up_restarts_a_worker_that_dies(tmp_path: Path) -> None:
    pools = tmp_path / "pools.toml"
    quick = CHAOS_POOLS.read_text().split("[pools.quick]")[1].split("[pools.")[0]
    pools.write_text(f"[pools.quick]{quick}")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("EDGE_", "WORKER_", "REDIS_URL"))
    }
    env.update(FAST_RECOVERY, RELAYLINE_POOLS=str(pools), RELAYLINE_LOG_LEVEL="WARNING")
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relayline.cli",
            "up",
            "--port",
            str(port),
            "--redis-port",
            str(free_port()),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def submit(prompt: str) -> str:
        body = {"model": "quick", "input": {"messages": [{"role": "user", "content": prompt}]}}
        return str(httpx.post(f"{base}/v1/jobs", json=body, headers=AUTH).json()["id"])

    def ended(job_id: str) -> dict[str, object] | None:
        record: dict[str, object] = httpx.get(f"{base}/v1/jobs/{job_id}", headers=AUTH).json()
        return record if record["status"] in ("succeeded", "failed") else None

    try:
        wait_for(lambda: _ready(base), timeout=60, what="relayline up")
        poison = submit("POISON")  # kills the worker on every delivery
        record = wait_for(lambda: ended(poison), timeout=90, what="the poison job to end")
        assert record is not None
        error = record["error"]
        assert isinstance(error, dict)
        assert error["code"] == "dead_lettered"
        assert "starting another" in (tmp_path / "up.log").read_text()
        after = submit("a normal job")
        record = wait_for(lambda: ended(after), timeout=60, what="a job after the crashes")
        assert record is not None
        assert record["status"] == "succeeded"
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(30)
        log.close()


def _ready(base: str) -> bool:
    try:
        models = httpx.get(f"{base}/v1/models", headers=AUTH).json()["data"]
    except httpx.HTTPError:
        return False
    return bool(models and models[0]["workers"])
