"""HTTP load from `wrk` (Debian's package: `infra/scripts/install-system.sh wrk`): POST one
JSON body over many kept-alive connections for a while, and count every answer that is not
the expected status (wrk itself counts only 4xx/5xx and socket errors)."""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.stats import BenchFailure

SCRIPT = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) unexpected = 0 end
function response(status, headers, body)
  if status ~= {status} then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("unexpected") end
  local errors = summary.errors
  io.write(string.format("wrk-result %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), total,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    """What `wrk` sends: `connections` at once for `seconds`, from `threads` threads; an
    answer later than `timeout` seconds counts as a failed request (wrk's default, 2 s, is
    reached on a busy machine)."""

    connections: int = 64
    seconds: int = 10
    threads: int = 1
    timeout: int = 30


@dataclass(frozen=True)
class Answered:
    """What one `wrk` run measured."""

    requests: int
    seconds: float
    p50: float
    p99: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def _lua(body: Any, headers: dict[str, str], status: int) -> str:
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    # A JSON string is a valid Lua string literal for ASCII text.
    return SCRIPT.format(body=json.dumps(json.dumps(body)), headers="\n".join(lines), status=status)


def _parse(output: str) -> tuple[Answered, int, int]:
    line = next((line for line in output.splitlines() if line.startswith("wrk-result ")), None)
    if line is None:
        raise BenchFailure(f"wrk printed no result:\n{output}")
    requests, micros, p50, p99, unexpected, errors = (int(v) for v in line.split()[1:])
    return Answered(requests, micros / 1e6, p50 / 1e6, p99 / 1e6), unexpected, errors


def post(url: str, body: Any, headers: dict[str, str], load: Load, status: int = 202) -> Answered:
    """POST `body` to `url` under `load`; raises `BenchFailure` if any answer is not `status`
    or any socket failed."""
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchFailure("wrk is not installed: bash infra/scripts/install-system.sh wrk")
    with tempfile.TemporaryDirectory(prefix="relayline-wrk-") as folder:
        script = Path(folder) / "post.lua"
        script.write_text(_lua(body, headers, status))
        args = [binary, f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds}s"]
        args.append(f"--timeout={load.timeout}s")
        ran = subprocess.run(
            [*args, "-s", str(script), url], capture_output=True, text=True, check=False
        )
    if ran.returncode != 0:
        raise BenchFailure(f"wrk exited {ran.returncode}: {ran.stderr}{ran.stdout}")
    answered, unexpected, errors = _parse(ran.stdout)
    if unexpected or errors or answered.requests == 0:
        raise BenchFailure(
            f"wrk on {url}: {unexpected} answers not {status}, {errors} socket errors, "
            f"{answered.requests} requests:\n{ran.stdout}"
        )
    return answered
