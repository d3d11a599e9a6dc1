"""The fair-share settings at their bounds: a user's weight (edge, tiers) and the batch aging
time (worker). A bad value stops the service at start; the bounds themselves are taken."""

import json

import pytest
from pydantic import ValidationError

from edge.settings import Settings as EdgeSettings
from edge.tiers import LimitTier
from worker.settings import Settings as WorkerSettings

BAD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e308", str(2**63), "\u0668", "", "abc"]
"""Zero, negative, NaN, infinite, past 2^63, a non-ASCII digit, empty, not a number."""


@pytest.mark.parametrize("variable", ["EDGE_WEIGHT", "EDGE_GUEST_WEIGHT"])
@pytest.mark.parametrize("value", [*BAD_NUMBERS, "0.009", "1000.5"])
def test_a_bad_weight_stops_the_edge(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        EdgeSettings()


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_bad_batch_aging_time_stops_the_worker(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_BATCH_AGING_SECONDS", value)
    with pytest.raises(ValidationError):
        WorkerSettings()


@pytest.mark.parametrize("weight", [0, -1, float("nan"), float("inf"), 1e308, 2**63])
def test_a_tier_with_a_bad_weight_stops_the_edge(
    weight: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    tier = {"requests_per_second": 1, "burst": 1, "max_streams": 1, "max_active_jobs": 1}
    with pytest.raises(ValidationError):
        LimitTier.model_validate({**tier, "weight": weight})
    monkeypatch.setenv("EDGE_LIMIT_TIERS", json.dumps({"t": {**tier, "weight": str(weight)}}))
    with pytest.raises(ValidationError):
        EdgeSettings()


def test_the_bounds_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (EdgeSettings().weight, EdgeSettings().guest_weight) == (1.0, 1.0)
    assert WorkerSettings().batch_aging_seconds == 30.0
    monkeypatch.setenv("EDGE_WEIGHT", "0.01")
    monkeypatch.setenv("EDGE_GUEST_WEIGHT", "1000")
    monkeypatch.setenv("WORKER_BATCH_AGING_SECONDS", "86400")
    assert (EdgeSettings().weight, EdgeSettings().guest_weight) == (0.01, 1000.0)
    assert WorkerSettings().batch_aging_seconds == 86400.0
