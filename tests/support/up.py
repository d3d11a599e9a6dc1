"""`relayline up` (what `make run` starts) as a test runs it: on free ports, its own state
folder, and the environment of a fresh shell (no REDIS_URL: it starts its embedded Redis)."""

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from relayline.redis_server import free_port
from tests.support.wait import wait_for

LOCAL_AUTH = {"Authorization": "Bearer local-dev-key"}


@dataclass
class Up:
    popen: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def redis_url(self) -> str:
        found = re.search(r"embedded Redis at (redis://\S+),", self.log())
        assert found, self.log()
        return found.group(1)

    def wait_pools_live(self, pools: list[str], timeout: float = 120) -> None:
        def live() -> bool:
            assert self.popen.poll() is None, self.log()
            try:
                models = httpx.get(f"{self.base}/v1/models", headers=LOCAL_AUTH).json()["data"]
            except httpx.HTTPError:
                return False
            return all(any(m["id"] == p and m["workers"] for m in models) for p in pools)

        wait_for(live, timeout=timeout, what=f"relayline up with live workers of {pools}")


@contextlib.contextmanager
def relayline_up(workdir: Path, *args: str, **env: str) -> Iterator[Up]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EDGE_", "WORKER_", "RELAYLINE_", "REDIS_URL"))
    }
    port = free_port()
    log_path = workdir / "up.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
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
                str(workdir / "state"),
                *args,
            ],
            env={**clean, "RELAYLINE_LOG_LEVEL": "WARNING", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    up = Up(popen, f"http://127.0.0.1:{port}", log_path)
    try:
        yield up
    finally:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(30)
        finally:
            if popen.poll() is None:
                popen.kill()
