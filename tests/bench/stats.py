"""Percentiles, formatting and the failure type of the benchmark."""

import math
from collections.abc import Sequence

Row = tuple[str, str, str]
"""(scenario, metric, value) of the results table."""


class BenchFailure(Exception):
    """A correctness failure: a job did not succeed, or a transcript has a gap."""


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def rate(count: float, seconds: float, unit: str) -> str:
    return "n/a" if seconds <= 0 else f"{count / seconds:,.0f} {unit}/s"


def latency_rows(scenario: str, label: str, seconds: Sequence[float]) -> list[Row]:
    return [
        (scenario, f"{label} p50", ms(percentile(seconds, 50))),
        (scenario, f"{label} p99", ms(percentile(seconds, 99))),
    ]
