"""`relayline up`: every process of the stack on one machine, stopped together."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from contracts.pools import DEFAULT_POOLS_FILE, load_pools
from relayline.guest_secret import ensure_guest_secret
from relayline.redis_server import RedisProcess, free_port, start_redis


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


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


LOCAL_API_KEY = "local-dev-key"
"""The API key `relayline up` accepts when none are configured and it listens on loopback."""


def run_stack(host: str, port: int, state_dir: Path, redis_port: int | None = None) -> int:
    env = dict(os.environ)
    redis: RedisProcess | None = None
    if not env.get("REDIS_URL"):
        redis_port = redis_port or (6379 if _port_free(6379) else free_port())
        redis = start_redis(state_dir / "redis", redis_port)
        env["REDIS_URL"] = redis.url
        print(f"relayline: embedded Redis at {redis.url}, data in {state_dir / 'redis'}")
    env.setdefault("EDGE_GUEST_MODE", "true")
    ensure_guest_secret(env, state_dir)
    if not env.get("EDGE_API_KEYS") and host in ("127.0.0.1", "localhost", "::1"):
        env["EDGE_API_KEYS"] = f"{LOCAL_API_KEY}:local"
        print(f"relayline: API key for scripts and curl: {LOCAL_API_KEY} (loopback only)")
    web_dist = Path("web/dist")
    if web_dist.is_dir():
        env.setdefault("EDGE_WEB_DIST", str(web_dist.resolve()))
    pools_file = Path(env.get("RELAYLINE_POOLS", DEFAULT_POOLS_FILE))
    pools = [pool for pool in load_pools(pools_file).pools.values() if pool.default]

    command = [sys.executable, "-m", "relayline.cli"]
    edge = subprocess.Popen([*command, "edge", "--host", host, "--port", str(port)], env=env)
    workers = {
        pool.name: subprocess.Popen([*command, "worker", "--pool", pool.name], env=env)
        for pool in pools
    }
    processes = [edge, *workers.values()]

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if _wait_ready(f"http://{host}:{port}/readyz", processes, 60):
            names = ", ".join(pool.name for pool in pools)
            print(f"relayline: ready at http://{host}:{port} (pools: {names}); Ctrl-C stops it")
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
                    workers[name] = subprocess.Popen([*command, "worker", "--pool", name], env=env)
                    processes.append(workers[name])
        print("relayline: the edge exited; stopping the stack", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if redis:
            redis.stop()
