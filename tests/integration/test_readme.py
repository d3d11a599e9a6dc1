"""The README's two commands, run exactly as written: `make run` in a fresh clone of the
committed HEAD, from the environment of a fresh shell, with no arguments. The README's curl
block and its openai example run against it as they are printed; a SIGTERM to make's process
group stops everything, and a second `make run` reuses the state of the first."""

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.clone import (
    REPOSITORY,
    Command,
    fresh_clone,
    fresh_shell_environment,
    port_in_use,
    processes_of,
    started,
    wait_gone,
)
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.models]

README = REPOSITORY / "README.md"
BASE = "http://127.0.0.1:8000"  # what the README promises
AUTH = {"Authorization": "Bearer local-dev-key"}
FIRST_RUN_SECONDS = 1200  # installs Python packages, node modules and builds the UI
STOP_SECONDS = 30


def readme_commands() -> list[str]:
    block = re.search(r"^# Relayline\n\n```bash\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md no longer starts with its two commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines()]


def readme_curl_block() -> str:
    block = re.search(r"<!-- readme-curl:start -->\n```bash\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its curl example block"
    return block.group(1)


def readme_python_block() -> str:
    block = re.search(r"```python\n(from openai import OpenAI.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its openai client example"
    return block.group(1)


def wait_ready(run: Command, timeout: float) -> None:
    def ready() -> bool:
        assert run.running(), f"make run exited with {run.popen.returncode}:\n{run.log()[-6000:]}"
        try:
            return httpx.get(f"{BASE}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=timeout, what="make run to answer /readyz")


def wait_workers(pools: list[str]) -> None:
    def live() -> bool:
        models = httpx.get(f"{BASE}/v1/models", headers=AUTH).json()["data"]
        return all(any(m["id"] == pool and m["workers"] for m in models) for pool in pools)

    wait_for(live, timeout=180, what=f"live workers of {pools}")


def redis_port(log: str) -> int:
    found = re.search(r"embedded Redis at redis://127\.0\.0\.1:(\d+)/0", log)
    assert found, f"make run did not say where its Redis is:\n{log[-4000:]}"
    return int(found.group(1))


def stop(run: Command, clone: Path) -> None:
    run.terminate_group()
    wait_gone(clone, [8000, redis_port(run.log())], timeout=STOP_SECONDS)


def run_readme_examples(clone: Path) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_curl_block()],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    events = [
        json.loads(line[6:]) for line in result.stdout.splitlines() if line.startswith("data: ")
    ]
    first_pass = events[: next(i for i, e in enumerate(events) if e["type"] == "job-end") + 1]
    resumed = events[len(first_pass) :]
    assert [event["seq"] for event in first_pass] == list(range(1, len(first_pass) + 1))
    assert first_pass[-1]["status"] == "succeeded"
    assert len(first_pass[-1]["output"]["embeddings"]) == 2
    assert resumed == first_pass[2:]
    assert json.loads(result.stdout.splitlines()[-1])["status"] == "succeeded"

    # The clone's own environment after `make run` has the openai package (a user would
    # `pip install openai`).
    answer = subprocess.run(
        [str(clone / ".venv/bin/python"), "-c", readme_python_block()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert len(answer.stdout.split()) > 3, answer.stdout


def kill_workers(clone: Path) -> None:
    workers = [line for line in processes_of(clone) if "relayline.cli worker" in line]
    assert len(workers) == 2, processes_of(clone)
    for line in workers:
        pid = int(line.split(":")[0])
        subprocess.run(["kill", f"-{int(signal.SIGKILL)}", str(pid)], check=True)
    wait_for(
        lambda: not any("relayline.cli worker" in line for line in processes_of(clone)),
        what="the killed workers to be gone",
    )


def job(job_id: str) -> dict[str, Any]:
    record: dict[str, Any] = httpx.get(f"{BASE}/v1/jobs/{job_id}", headers=AUTH).json()
    return record


@pytest.mark.timeout(FIRST_RUN_SECONDS + 600)
def test_make_run_on_a_fresh_clone_serves_the_readme_and_stops_clean(tmp_path: Path) -> None:
    assert readme_commands() == ["make run", "make test"]
    assert not port_in_use(8000), "port 8000 is taken: this test runs `make run` as documented"
    clone = fresh_clone(tmp_path)
    env = fresh_shell_environment()
    log = tmp_path / "make-run.log"

    with started(["make", "run"], clone, env, log) as run:
        wait_ready(run, FIRST_RUN_SECONDS)
        wait_workers(["chat", "embed"])
        docs = httpx.get(f"{BASE}/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
        run_readme_examples(clone)

        # A job accepted while no worker runs: it waits in Redis through the stop.
        kill_workers(clone)
        body = {"model": "embed", "input": {"texts": ["accepted before the stop"]}}
        accepted = httpx.post(f"{BASE}/v1/jobs", json=body, headers=AUTH)
        assert accepted.status_code == 202, accepted.text
        waiting = accepted.json()["id"]
        stop(run, clone)
    state = clone / ".state" / "redis"
    assert f"data in {state}" in run.log()
    assert (state / "appendonlydir").is_dir(), "the embedded Redis keeps an append-only file"

    with started(["make", "run"], clone, env, log) as again:
        wait_ready(again, 300)
        wait_for(
            lambda: job(waiting)["status"] in ("succeeded", "failed"),
            timeout=180,
            what="the job accepted before the stop to end",
        )
        record = job(waiting)
        assert record["status"] == "succeeded", record
        assert len(record["output"]["embeddings"]) == 1
        stop(again, clone)
