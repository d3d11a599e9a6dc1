"""`EDGE_MAX_LARGE_BODIES_PER_CLIENT` is bounded: none at all would refuse every large body,
and past 10,000 one client's waiting bodies could fill the edge's memory; out of range, the
edge does not start."""

import pytest
from pydantic import ValidationError

from edge.settings import Settings


@pytest.mark.parametrize(
    "value", [0, -1, 10_001, 2**63, float("nan"), float("inf"), 1.5, "", "sixteen", "\u0661\u0666"]
)
def test_out_of_range_values_stop_the_edge(value: object) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"max_large_bodies_per_client": value})


def test_the_bounds_and_the_environment_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(max_large_bodies_per_client=1).max_large_bodies_per_client == 1
    assert Settings(max_large_bodies_per_client=10_000).max_large_bodies_per_client == 10_000
    assert Settings().max_large_bodies_per_client == 16
    monkeypatch.setenv("EDGE_MAX_LARGE_BODIES_PER_CLIENT", "40")
    assert Settings().max_large_bodies_per_client == 40
