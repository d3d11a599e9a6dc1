"""`make run` on a fresh checkout: `relayline up` (what it calls) starts an embedded Redis,
the edge and the default workers; /docs is served and the README's curl examples work."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from relayline.redis_server import free_port
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.models]

README = Path(__file__).parents[2] / "README.md"


def readme_curl_block() -> str:
    text = README.read_text()
    block = re.search(r"<!-- readme-curl:start -->\n```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its curl example block"
    return block.group(1)


def test_relayline_up_serves_docs_and_the_readme_examples_work(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EDGE_", "WORKER_", "RELAYLINE_", "REDIS_URL"))
    }
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
            str(redis_port),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env={**env, "RELAYLINE_LOG_LEVEL": "WARNING"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def embed_worker_live() -> bool:
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            try:
                models = httpx.get(
                    f"{base}/v1/models", headers={"Authorization": "Bearer local-dev-key"}
                ).json()
            except httpx.HTTPError:
                return False
            return any(model["id"] == "embed" and model["workers"] for model in models["data"])

        wait_for(embed_worker_live, timeout=120, what="relayline up with a live embed worker")
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
        assert (tmp_path / "state" / "redis" / "appendonlydir").exists() or list(
            (tmp_path / "state" / "redis").glob("*.aof")
        ), "the embedded Redis keeps an append-only file"

        script = readme_curl_block().replace("http://127.0.0.1:8000", base)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
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
        record = json.loads(result.stdout.splitlines()[-1])
        assert record["status"] == "succeeded"
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(30)
        finally:
            if up.poll() is None:
                up.kill()
            log.close()
    assert up.returncode == 0, (tmp_path / "up.log").read_text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)
