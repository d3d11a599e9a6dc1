"""One user's heavy bodies against another user's submits, on one edge (`make bench`).

Alice sends on `CONNECTIONS` connections at once a 0.5 MB body of 170,000 empty arrays (a
field the contract refuses, so `422`): the most CPU a body within `EDGE_MAX_BODY_BYTES` asks
of the edge's event loop. Meanwhile bob submits jobs one after another. Two scenarios: every
connection kept alive from the start (the edge parses what arrives on open connections), or
a new connection per request (the edge must also accept them). Measured for each version of
the services: the edge's CPU per heavy body (from /proc), and bob's submit latency during
the flood, against his latency on the idle edge in the same run. No worker runs: a submit
is answered once the job is in Redis.

`--before COMMIT` measures that commit's services too (`git archive`, tests/bench/versions.py).
"""

import concurrent.futures
import contextlib
import multiprocessing
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

from tests.bench.machine import cpu_seconds, machine_info
from tests.bench.report import publish
from tests.bench.stats import BenchFailure
from tests.bench.versions import Code, Comparison
from tests.support.redis import redis_url
from tests.support.stack import API_KEYS, LIFTED_LIMITS, Stack

CONNECTIONS, ROUNDS, IDLE_SUBMITS = 40, 3, 100
HEAVY = (
    b'{"model":"sim","input":{"messages":[{"role":"user","content":"hi"}]},"x":['
    + b",".join([b"[]"] * 170_000)
    + b"]}"
)
SUBMIT = b'{"model":"sim","input":{"messages":[{"role":"user","content":"hi"}]}}'
KEYS = {user: key for key, user in API_KEYS.items()}


def _request(body: bytes, user: str) -> bytes:
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEYS[user]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _exchange(sock: socket.socket, request: bytes) -> int:
    """Send one request on a kept-alive connection and read its whole answer: the status."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += _recv(sock)
    return int(head.split()[1])


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise BenchFailure("the edge closed a connection")
    return chunk


def _flood(port: int, go: Event, ready: Event, rounds: int, kept_alive: bool) -> None:
    """Alice: a heavy body on each of `CONNECTIONS` connections at once, `rounds` times; on
    connections kept alive from the start, or on new ones each time (as clients that do not
    keep connections alive)."""
    kept = [_connect(port) for _ in range(CONNECTIONS)] if kept_alive else []
    request = _request(HEAVY, "alice")

    def send(index: int) -> int:
        if kept_alive:
            return _exchange(kept[index], request)
        with _connect(port) as sock:
            return _exchange(sock, request)

    for _ in range(rounds):
        ready.set()
        go.wait()
        go.clear()
        with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
            statuses = list(pool.map(send, range(CONNECTIONS)))
        if statuses != [422] * CONNECTIONS:
            raise SystemExit(f"heavy bodies answered {sorted(set(statuses))}, not 422")


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port))


@dataclass
class Figures:
    cpu_ms_per_heavy: float
    idle_ms: list[float]
    flooded_ms: list[float]


def _submit(port: int, kept: socket.socket | None) -> float:
    """Bob's submit, on his kept-alive connection or on a new one; its latency in ms."""
    began = time.perf_counter()
    with contextlib.nullcontext(kept) if kept else _connect(port) as sock:
        if (status := _exchange(sock, _request(SUBMIT, "bob"))) != 202:
            raise BenchFailure(f"bob's submit answered {status}")
    return (time.perf_counter() - began) * 1000


def measure(code: Code, url: str, workdir: Path, kept_alive: bool) -> Figures:
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(url, workdir)
    try:
        # No worker runs: bob's jobs stay unfinished, so their cap is lifted too.
        # And alice's bodies may all wait (16 by default; one more is refused, not parsed).
        lifted = {
            **LIFTED_LIMITS,
            "EDGE_MAX_ACTIVE_JOBS_PER_USER": "1000000",
            "EDGE_MAX_LARGE_BODIES_PER_CLIENT": str(CONNECTIONS),
        }
        edge = stack.edge(env={**lifted, **code.env()})
        port, pid = edge.port, edge.popen.pid
        bob = _connect(port) if kept_alive else None
        idle = [_submit(port, bob) for _ in range(IDLE_SUBMITS)]
        go, ready = multiprocessing.Event(), multiprocessing.Event()
        alice = multiprocessing.Process(target=_flood, args=(port, go, ready, ROUNDS, kept_alive))
        alice.start()
        flooded: list[float] = []
        cpu = 0.0
        for _ in range(ROUNDS):
            if not ready.wait(60):
                raise BenchFailure("the flood did not start")
            ready.clear()
            used = cpu_seconds(pid)
            go.set()
            while not ready.is_set() and alice.is_alive():
                flooded.append(_submit(port, bob))
            cpu += cpu_seconds(pid) - used
        alice.join(60)
        if alice.exitcode != 0:
            raise BenchFailure(f"the flood failed (exit {alice.exitcode}); see above")
        if bob is not None:
            bob.close()
        return Figures(cpu * 1000 / (ROUNDS * CONNECTIONS), idle, flooded)
    finally:
        stack.close()


SCENARIOS = {"kept alive": True, "a new connection each": False}
"""Alice's and bob's connections: kept alive from the start, or a new one per request."""


def render(figures: dict[tuple[str, str], Figures], facts: dict[str, str]) -> str:
    lines = [
        "## One user's heavy bodies against another user's submits",
        "",
        f"Alice sends a 0.5 MB body of 170,000 empty arrays (`422`) on each of {CONNECTIONS}",
        f"connections at once, {ROUNDS} times; bob submits one job after another meanwhile.",
        "Connections: kept alive from the start, or a new one per request (alice's and bob's",
        "alike; `EDGE_MAX_LARGE_BODIES_PER_CLIENT` is raised to the connections, so all of",
        "alice's bodies are parsed). The edge's CPU per heavy body includes bob's submits.",
        "Ratios: bob's latency during the flood to his median on the idle edge, same run.",
        "",
        "| version | connections | edge CPU per heavy body | bob idle p50 | bob flooded p50 "
        "| bob flooded max | submits during the flood | flooded p50 / idle p50 "
        "| flooded max / idle p50 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (name, scenario), f in figures.items():
        idle = statistics.median(f.idle_ms)
        p50, worst = statistics.median(f.flooded_ms), max(f.flooded_ms)
        lines.append(
            f"| {name} | {scenario} | {f.cpu_ms_per_heavy:.0f} ms | {idle:.1f} ms | "
            f"{p50:.1f} ms | {worst:.0f} ms | {len(f.flooded_ms)} | {p50 / idle:.0f}x | "
            f"{worst / idle:.0f}x |"
        )
    lines += ["", *(f"- {key}: {value}" for key, value in facts.items())]
    return "\n".join(lines)


def main() -> int:
    comparison = Comparison.from_arguments("tests.bench.heavy", __doc__)

    def produce(workdir: Path) -> str:
        with redis_url() as url:
            figures = {
                (code.name, scenario): measure(code, url, workdir / f"v{n}{kept}", kept)
                for scenario, kept in SCENARIOS.items()
                for n, code in enumerate(comparison.versions(workdir))
            }
            return render(figures, {**comparison.facts(), **machine_info(url)})

    return publish("heavy", produce)


if __name__ == "__main__":
    sys.exit(main())
