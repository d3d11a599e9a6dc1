"""What the benchmark ran on, and what its processes cost (from /proc)."""

import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import redis

_TICKS = os.sysconf("SC_CLK_TCK")


def _first_value(path: str, key: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return "unknown"
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return "unknown"


def machine_info(redis_url: str) -> dict[str, str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        server = client.info("server")
    finally:
        client.close()
    mem_kib = _first_value("/proc/meminfo", "MemTotal").split()[0]
    ram = f"{int(mem_kib) / 1024 / 1024:.1f} GiB" if mem_kib.isdigit() else "unknown"
    return {
        "CPU": _first_value("/proc/cpuinfo", "model name"),
        "Cores": str(os.cpu_count() or "unknown"),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Redis": str(server.get("redis_version", "unknown")),
    }


def redis_pid(redis_url: str) -> int | None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        pid = client.info("server").get("process_id")
    finally:
        client.close()
    return int(pid) if pid is not None and Path(f"/proc/{pid}").exists() else None


def rss_mib(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MiB; NaN once it is gone."""
    value = _first_value(f"/proc/{pid}/status", "VmRSS").split()[0]
    return int(value) / 1024 if value.isdigit() else float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def waiting_seconds(pid: int) -> float:
    """Time a process's main thread (the event loop) has spent ready to run but waiting for
    a core, so far (the run delay of `/proc/PID/schedstat`)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


MACHINE = "whole machine"


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy (not idle or waiting on I/O)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICKS


class CpuMeter:
    """CPU used by groups of processes over a phase, as % of one core; `MACHINE` is every
    process on the machine, the benchmark's and anyone else's."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self.groups = groups
        self.started = 0.0
        self.before: dict[str, float] = {}
        self.waits_before: dict[str, float] = {}
        self.waited: dict[str, float] = {}
        """After `stop`: each group's main threads' time waiting for a core, % of the phase."""

    def _now(self) -> dict[str, float]:
        used = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}
        return {**used, MACHINE: machine_busy_seconds()}

    def _waits(self) -> dict[str, float]:
        return {
            name: sum(waiting_seconds(pid) for pid in pids) for name, pids in self.groups.items()
        }

    def start(self) -> None:
        self.before, self.waits_before = self._now(), self._waits()
        self.started = time.monotonic()

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        after, waits = self._now(), self._waits()
        self.waited = {
            name: 100 * (waits[name] - self.waits_before[name]) / elapsed for name in waits
        }
        return {name: 100 * (after[name] - self.before[name]) / elapsed for name in after}
