"""A worker's concurrency at its bounds (1 to 1024), as `WORKER_CONCURRENCY` and as a pool's
`concurrency` in the pools file: a bad value stops the worker at start; the bounds are taken."""

import pytest
from pydantic import ValidationError

from contracts.pools import PoolConfig
from worker.settings import Settings as WorkerSettings

BAD = ["0", "-1", "1025", "0.5", "nan", "inf", "1e308", str(2**63), str(2**64), "", "abc", "\u0661"]
"""Below and past the bounds, not whole, NaN, infinite, past 2^63 and 2^64, empty, not a number,
a non-ASCII digit."""


@pytest.mark.parametrize("value", BAD)
def test_a_bad_worker_concurrency_stops_the_worker(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", value)
    with pytest.raises(ValidationError):
        WorkerSettings()


@pytest.mark.parametrize("value", BAD)
def test_a_bad_pool_concurrency_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        PoolConfig.model_validate(
            {"name": "p", "kind": "chat", "engine": "simulated", "concurrency": value}
        )


@pytest.mark.parametrize("value", [1, 1024])
def test_the_bounds_are_taken(value: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", str(value))
    assert WorkerSettings().concurrency == value
    pool = {"name": "p", "kind": "chat", "engine": "simulated", "concurrency": value}
    assert PoolConfig.model_validate(pool).concurrency == value
