"""The benchmark's section of docs/benchmarks.md: rendered as Markdown, written between its
markers so the rest of the file survives."""

import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.bench.machine import MACHINE
from tests.bench.stats import Row

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"

HOW_TO_READ = """\
### How to read these numbers

Every job runs on the `simulated` engine (tests/bench/pools.toml), so the times are
Relayline's own cost: the edge, Redis, the worker's event writes and the fan-out; a real
model adds its own time on top. Client, edge, workers and Redis share one machine and
compete for its cores: the CPU table shows who used them (100% = one core busy for the
whole phase). A phase whose benchmark total nears `cores x 100%` is bound by this machine,
not by Relayline's design; a "whole machine" figure well above the benchmark's total means
something else ran at the same time and the numbers are pessimistic. The second table shows
the time each event loop was ready but waited for a core (the kernel's run delay): well
below `cores x 100%` of use, processes that wake together (an event reaches a worker, Redis,
the edge and a client in turn) still queue for the cores, and every such wait adds to the
latencies measured. Latencies are
nearest-rank percentiles over every job of the phase (p99 of 200 jobs is the second-worst).
Phases 1 and 2 measure overhead and capacity. In 3a and 3b the rate is set by the model
(100 tokens at 50 tokens/s, coalesced every 30 ms: ~50 events per job over a nominal
1.98 s), so events/s there is what 200 paced streams need, not the most the edge can send;
watch instead the time to first token, the inter-event gap (~40 ms when nothing waits) and
the worker streaming time against 1.98 s. The 200 clients submit or subscribe at most 25 at
a time (each until its job's first event arrives), so time to first token measures the
stack, not a 200-wide burst queueing at the client. Numbers vary by 10-20% from run to run;
compare runs on the same machine only."""


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cpu_table(cpu: Mapping[str, Mapping[str, float]]) -> list[str]:
    groups = [group for group in next(iter(cpu.values()), {}) if group != MACHINE]
    rows = [
        [
            phase,
            *(f"{usage[group]:.0f}%" for group in groups),
            f"{sum(usage[group] for group in groups):.0f}%",
            f"{usage[MACHINE]:.0f}%",
        ]
        for phase, usage in cpu.items()
    ]
    return table(["phase", *groups, "benchmark total", MACHINE], rows)


def _wait_table(waited: Mapping[str, Mapping[str, float]]) -> list[str]:
    groups = list(next(iter(waited.values()), {}))
    rows = [
        [phase, *(f"{usage[group]:.0f}%" for group in groups)] for phase, usage in waited.items()
    ]
    return table(["phase", *groups], rows)


def render(
    machine: Mapping[str, str],
    facts: Mapping[str, str],
    rows: Sequence[Row],
    cpu: Mapping[str, Mapping[str, float]],
    waited: Mapping[str, Mapping[str, float]],
) -> str:
    lines = ["## Foundation benchmarks", ""]
    lines += [f"- **{name}**: {value}" for name, value in {**facts, **machine}.items()]
    lines += ["", *table(["scenario", "metric", "value"], rows), ""]
    lines += ["CPU used during each phase (% of one core):", "", *_cpu_table(cpu), ""]
    lines += [
        "Time each group's main threads (their event loops) were ready to run but waited for a "
        "core, during each phase (% of the phase, summed over the group's processes):",
        "",
        *_wait_table(waited),
        "",
    ]
    lines += [HOW_TO_READ]
    return "\n".join(lines)


def write_section(body: str, path: Path = DOC, name: str = "foundation") -> None:
    """Replace the section between `<!-- bench:NAME:start -->` and its end marker."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    section = f"{start}\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    head, found, rest = text.partition(start)
    if found and end in rest:
        text = head + section + rest.partition(end)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def publish(name: str, produce: Callable[[Path], str]) -> int:
    """Run a benchmark whose section is `name`: `produce(workdir)` measures and returns the
    section's body, which is printed and written. A failure prints its traceback, keeps the
    workdir (its processes' logs) and leaves the document alone: exit status 1."""
    workdir = Path(tempfile.mkdtemp(prefix=f"relayline-bench-{name}-"))
    try:
        body = produce(workdir)
    except Exception as exc:
        traceback.print_exception(exc)
        print(f"bench: FAILED; logs in {workdir}; {DOC} left unchanged", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print(body)
    write_section(body, name=name)
    print(f"bench: wrote {DOC}", file=sys.stderr)
    return 0
