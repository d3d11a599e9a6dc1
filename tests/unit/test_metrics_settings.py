"""`WORKER_METRICS_PORT` and `WORKER_METRICS_HOST` at their bounds: a bad value stops the
worker at start, never at the first scrape; the bounds are taken."""

import pytest
from pydantic import ValidationError

from worker.settings import Settings as WorkerSettings

BAD_PORTS = ["0", "-1", "65536", "0.5", "nan", "inf", str(2**63), str(2**64), "abc", "\u0661"]


@pytest.mark.parametrize("value", BAD_PORTS)
def test_a_bad_metrics_port_stops_the_worker(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_METRICS_PORT", value)
    with pytest.raises(ValidationError):
        WorkerSettings()


@pytest.mark.parametrize("value", ["", "h" * 254])
def test_a_bad_metrics_host_stops_the_worker(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_METRICS_HOST", value)
    with pytest.raises(ValidationError):
        WorkerSettings()


@pytest.mark.parametrize("value", [1, 65535])
def test_the_port_bounds_are_taken_and_unset_is_off(
    value: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKER_METRICS_PORT", raising=False)
    assert WorkerSettings().metrics_port is None
    monkeypatch.setenv("WORKER_METRICS_PORT", str(value))
    assert WorkerSettings().metrics_port == value
