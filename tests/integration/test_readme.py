"""`make run` on a fresh checkout: `relayline up` (what it calls) starts an embedded Redis,
the edge and the default workers; /docs is served and the README's curl examples work."""

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.up import relayline_up

pytestmark = [pytest.mark.integration, pytest.mark.models]

README = Path(__file__).parents[2] / "README.md"


def readme_curl_block() -> str:
    text = README.read_text()
    block = re.search(r"<!-- readme-curl:start -->\n```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its curl example block"
    return block.group(1)


def readme_python_block() -> str:
    block = re.search(r"```python\n(from openai import OpenAI.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its openai client example"
    return block.group(1)


def test_relayline_up_serves_docs_and_the_readme_examples_work(tmp_path: Path) -> None:
    with relayline_up(tmp_path) as up:
        base = up.base
        up.wait_pools_live(["chat", "embed"])
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

        python = readme_python_block().replace("http://127.0.0.1:8000", base)
        answer = subprocess.run(
            [sys.executable, "-c", python], capture_output=True, text=True, timeout=120, check=False
        )
        assert answer.returncode == 0, answer.stderr
        assert len(answer.stdout.split()) > 3, answer.stdout
    assert up.popen.returncode == 0, up.log()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)
