"""The replica waits of both services are bounded at their settings: a WAIT longer than the
Redis client's read timeout would fail every commit point."""

import pytest
from pydantic import ValidationError

from edge.settings import Settings as EdgeSettings
from worker.settings import Settings as WorkerSettings


@pytest.mark.parametrize("settings", [EdgeSettings, WorkerSettings])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("redis_wait_replicas", -1),
        ("redis_wait_replicas", 17),
        ("redis_wait_replicas", 2**63),
        ("redis_wait_timeout_ms", 0),
        ("redis_wait_timeout_ms", 4001),
        ("redis_wait_timeout_ms", float("nan")),
        ("redis_wait_timeout_ms", "\u0661\u0660\u0660"),  # non-ASCII 100
    ],
)
def test_out_of_range_waits_stop_the_service(
    settings: type[EdgeSettings] | type[WorkerSettings], field: str, value: object
) -> None:
    with pytest.raises(ValidationError):
        settings.model_validate({field: value})


@pytest.mark.parametrize("settings", [EdgeSettings, WorkerSettings])
def test_the_bounds_themselves_are_taken(
    settings: type[EdgeSettings] | type[WorkerSettings],
) -> None:
    assert settings(redis_wait_replicas=16, redis_wait_timeout_ms=4000).redis_wait_replicas == 16
    assert settings(redis_wait_replicas=0, redis_wait_timeout_ms=1).redis_wait_timeout_ms == 1
