"""`relayline up`: every process of the stack on one machine, stopped together.

Every path handed to a child is absolute. Redis runs in a session of its own: a Ctrl-C or a
SIGTERM to the terminal's process group reaches the edge and the workers at once, and Redis
is stopped last, after they have handed their jobs back. Every child dies with this process.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from contracts.pools import DEFAULT_POOLS_FILE, load_pools
from relayline.children import die_with_parent
from relayline.guest_secret import ensure_guest_secret
from relayline.redis_server import RedisProcess, free_port, start_redis

LOCAL_API_KEY = "local-dev-key"
"""The API key `relayline up` accepts when none are configured and it listens on loopback."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class StackOptions:
    host: str
    port: int
    state_dir: Path
    redis_port: int | None = None
    redis_maxmemory: str = "1gb"


class StartError(Exception):
    """Something the user can fix before the stack starts; said in one line."""


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _can_listen(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _wait_ready(url: str, processes: list[subprocess.Popen[bytes]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _start_redis(options: StackOptions) -> RedisProcess:
    port = options.redis_port or (6379 if not _port_in_use(6379) else free_port())
    if _port_in_use(port):
        raise StartError(
            f"port {port} for the embedded Redis is already in use; "
            "choose another with 'relayline up --redis-port PORT'"
        )
    try:
        return start_redis(
            options.state_dir / "redis", port, maxmemory=options.redis_maxmemory, detach=True
        )
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        raise StartError(f"the embedded Redis did not start: {exc}") from None


def _environment(options: StackOptions) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("EDGE_GUEST_MODE", "true")
    ensure_guest_secret(env, options.state_dir)
    if not env.get("EDGE_API_KEYS") and options.host in LOOPBACK:
        env["EDGE_API_KEYS"] = f"{LOCAL_API_KEY}:local"
        print(f"relayline: API key for scripts and curl: {LOCAL_API_KEY} (loopback only)")
    web_dist = Path("web/dist").resolve()
    if web_dist.is_dir():
        env.setdefault("EDGE_WEB_DIST", str(web_dist))
    if env.get("EDGE_WEB_DIST"):
        env["EDGE_WEB_DIST"] = str(Path(env["EDGE_WEB_DIST"]).resolve())
    env["RELAYLINE_POOLS"] = str(Path(env.get("RELAYLINE_POOLS", DEFAULT_POOLS_FILE)).resolve())
    return env


def run_stack(options: StackOptions) -> int:
    options.state_dir = options.state_dir.resolve()
    if not _can_listen(options.host, options.port):
        print(
            f"relayline: port {options.port} on {options.host} is already in use; stop what "
            f"listens there or choose another port: 'relayline up --port {options.port + 1}' "
            f"(or RELAYLINE_PORT={options.port + 1} make run)",
            file=sys.stderr,
        )
        return 1
    env = _environment(options)
    pools = load_pools(Path(env["RELAYLINE_POOLS"])).pools.values()
    redis: RedisProcess | None = None
    try:
        if not env.get("REDIS_URL"):
            redis = _start_redis(options)
            env["REDIS_URL"] = redis.url
            print(
                f"relayline: embedded Redis at {redis.url}, data in {redis.data_dir}, "
                f"maxmemory {options.redis_maxmemory}"
            )
    except StartError as exc:
        print(f"relayline: {exc}", file=sys.stderr)
        return 1
    try:
        return _supervise(options, env, [pool.name for pool in pools if pool.default])
    finally:
        if redis:
            redis.stop()


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "relayline.cli", *args]
    return subprocess.Popen(command, env=env, preexec_fn=die_with_parent())


def _supervise(options: StackOptions, env: dict[str, str], pools: list[str]) -> int:
    edge = _spawn(env, "edge", "--host", options.host, "--port", str(options.port))
    workers = {name: _spawn(env, "worker", "--pool", name) for name in pools}
    processes = [edge, *workers.values()]

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        base = f"http://{options.host}:{options.port}"
        if _wait_ready(f"{base}/readyz", processes, 60):
            print(f"relayline: ready at {base} (pools: {', '.join(pools)}); Ctrl-C stops it")
        delays = dict.fromkeys(workers, 1.0)
        restart_at: dict[str, float] = {}
        while edge.poll() is None:
            time.sleep(0.5)
            now = time.monotonic()
            for name, worker in workers.items():
                if worker.poll() is None:
                    continue
                # As a process manager would, with backoff; the jobs it held are reclaimed
                # after their lease.
                if name not in restart_at:
                    restart_at[name] = now + delays[name]
                    print(
                        f"relayline: the {name} worker exited ({worker.returncode}); "
                        f"starting another in {delays[name]:.0f}s",
                        file=sys.stderr,
                    )
                    delays[name] = min(delays[name] * 2, 60.0)
                elif now >= restart_at[name]:
                    del restart_at[name]
                    workers[name] = _spawn(env, "worker", "--pool", name)
                    processes.append(workers[name])
        print("relayline: the edge exited; stopping the stack", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut this short
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
