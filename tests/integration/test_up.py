"""`relayline up` on a first run: what it says when something is in the way, where it keeps
its state, and a memory cap that makes a full Redis refuse jobs instead of taking the
machine's memory."""

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis
from redis.exceptions import OutOfMemoryError

from relayline.redis_server import start_redis
from tests.support.up import LOCAL_AUTH, relayline_up

pytestmark = pytest.mark.integration

ONE_POOL = '[pools.quick]\nkind = "chat"\nengine = "simulated"\noptions = { default_tokens = 5 }\n'


def test_a_taken_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "relayline.cli", "up", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    said = (result.stdout + result.stderr).strip().splitlines()
    assert len(said) == 1, said
    assert f"port {port}" in said[0] and "relayline up --port" in said[0], said
    assert not (tmp_path / ".state").exists(), "nothing was started"


def test_a_relative_data_dir_works_and_a_failed_start_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server = start_redis(Path("state/redis"), appendonly=False)
    try:
        assert redis.Redis(port=server.port).ping()
        assert server.data_dir.is_absolute()
        with pytest.raises(RuntimeError, match="Address already in use"):
            start_redis(Path("other"), server.port, appendonly=False, timeout=10)
    finally:
        server.stop()


def test_a_full_embedded_redis_refuses_new_jobs_with_503(tmp_path: Path) -> None:
    pools = tmp_path / "pools.toml"
    pools.write_text(ONE_POOL)
    with relayline_up(tmp_path, "--redis-maxmemory", "8mb", RELAYLINE_POOLS=str(pools)) as up:
        up.wait_pools_live(["quick"])
        client = redis.Redis.from_url(up.redis_url())
        assert client.config_get("maxmemory")["maxmemory"] == str(8 << 20)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        # Full, for certain: below what it holds (filling it races with Redis freeing the
        # client buffers that count towards the limit).
        client.config_set("maxmemory", "1mb")
        with pytest.raises(OutOfMemoryError):
            client.set("one more", "x")
        body = {"model": "quick", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        refused = httpx.post(f"{up.base}/v1/jobs", json=body, headers=LOCAL_AUTH)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "redis_unavailable"
        assert refused.headers["retry-after"]

        client.config_set("maxmemory", "8mb")
        accepted = httpx.post(f"{up.base}/v1/jobs", json=body, headers=LOCAL_AUTH)
        assert accepted.status_code == 202, accepted.text
