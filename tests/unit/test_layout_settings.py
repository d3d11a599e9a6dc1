"""The key layout's settings at their bounds, on both services: a bad shard count or a key
prefix that would move the hash tag stops the service at start, naming nothing else."""

import pytest
from pydantic import ValidationError

from contracts.keys import DEFAULT_SHARDS, MAX_SHARDS
from edge.settings import Settings as EdgeSettings
from worker.settings import Settings as WorkerSettings

SERVICES = [EdgeSettings, WorkerSettings]


@pytest.mark.parametrize("settings", SERVICES)
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RELAYLINE_SHARDS", "0"),
        ("RELAYLINE_SHARDS", "-1"),
        ("RELAYLINE_SHARDS", str(MAX_SHARDS + 1)),
        ("RELAYLINE_SHARDS", str(2**63)),
        ("RELAYLINE_SHARDS", "nan"),
        ("RELAYLINE_SHARDS", "\u0668"),  # a non-ASCII 8
        ("RELAYLINE_SHARDS", "8.5"),
        ("RELAYLINE_PREFIX", "rl{x}:"),
        ("RELAYLINE_PREFIX", "}"),
        ("RELAYLINE_PREFIX", "p" * 65),
    ],
)
def test_a_bad_layout_setting_stops_the_service(
    settings: type[EdgeSettings] | type[WorkerSettings],
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        settings()


@pytest.mark.parametrize("settings", SERVICES)
def test_the_layout_settings_and_their_service_overrides(
    settings: type[EdgeSettings] | type[WorkerSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings().shards == DEFAULT_SHARDS
    monkeypatch.setenv("RELAYLINE_SHARDS", str(MAX_SHARDS))
    monkeypatch.setenv("RELAYLINE_PREFIX", "ünï:")
    assert (settings().shards, settings().key_prefix) == (MAX_SHARDS, "ünï:")
    own = "EDGE_SHARDS" if settings is EdgeSettings else "WORKER_SHARDS"
    monkeypatch.setenv(own, "1")
    assert settings().shards == 1
