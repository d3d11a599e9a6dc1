"""The quota window setting on both services, and the pure parts of usage: UTC days,
windows, the rows of a usage hash, the refusal's `Retry-After`."""

import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.usage import (
    DEFAULT_QUOTA_WINDOW_SECONDS,
    QuotaState,
    recent_days,
    usage_rows,
    utc_day,
    window_start,
)
from edge.settings import Settings as EdgeSettings
from edge.usage import token_refusal
from worker.settings import Settings as WorkerSettings

SERVICES = [EdgeSettings, WorkerSettings]


@pytest.mark.parametrize("settings", SERVICES)
@pytest.mark.parametrize(
    "value", ["0", "-1", "59", str(366 * 86400 + 1), str(2**63), "nan", "inf", "\u0668", "1.5"]
)
def test_a_bad_quota_window_stops_the_service(
    settings: type[EdgeSettings] | type[WorkerSettings],
    value: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAYLINE_QUOTA_WINDOW_SECONDS", value)
    with pytest.raises(ValidationError):
        settings()


@pytest.mark.parametrize("settings", SERVICES)
def test_the_quota_window_is_shared_and_each_service_may_override_it(
    settings: type[EdgeSettings] | type[WorkerSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings().quota_window_seconds == DEFAULT_QUOTA_WINDOW_SECONDS
    monkeypatch.setenv("RELAYLINE_QUOTA_WINDOW_SECONDS", "3600")
    assert settings().quota_window_seconds == 3600
    own = "EDGE_QUOTA_WINDOW_SECONDS" if settings is EdgeSettings else "WORKER_QUOTA_WINDOW_SECONDS"
    monkeypatch.setenv(own, "60")
    assert settings().quota_window_seconds == 60


def test_days_and_windows_are_utc() -> None:
    midnight = 1_772_409_600  # 2026-03-02T00:00:00Z
    assert utc_day(midnight - 0.001) == "2026-03-01"
    assert utc_day(86_400 - 1e-7) == "1970-01-01"  # the day it is, not the rounded one
    assert utc_day(midnight) == "2026-03-02"
    assert recent_days(midnight + 5, 3) == ["2026-03-02", "2026-03-01", "2026-02-28"]
    assert window_start(midnight + 86399.9, 86400) == midnight
    assert window_start(midnight + 3599, 3600) == midnight
    assert window_start(midnight + 3600, 3600) == midnight + 3600
    assert window_start(7, 60) == 0


@pytest.mark.parametrize(
    "ts", [0, -1, -86_400.5, 951_782_400, 1_772_409_599.5, 1_795_931_262.24, 253_402_300_799.9]
)
def test_a_day_is_named_as_the_calendar_names_it(ts: float) -> None:
    assert utc_day(ts) == datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@pytest.mark.parametrize(("ts", "error"), [(math.nan, ValueError), (math.inf, OverflowError)])
def test_a_time_that_is_no_day_is_refused(ts: float, error: type[Exception]) -> None:
    with pytest.raises(error):
        utc_day(ts)


def test_a_usage_hash_makes_one_row_per_model() -> None:
    fields = {"a.b-c:prompt": "3", "a.b-c:completion": "4", "a.b-c:jobs": "2", "z:jobs": "1"}
    rows = usage_rows("guest-abc", "2026-03-01", fields)
    assert [row.model_dump() for row in rows] == [
        {
            "user": "guest-abc",
            "day": "2026-03-01",
            "model": "a.b-c",
            "prompt_tokens": 3,
            "completion_tokens": 4,
            "total_tokens": 7,
            "jobs": 2,
        },
        {
            "user": "guest-abc",
            "day": "2026-03-01",
            "model": "z",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "jobs": 1,
        },
    ]


def test_the_refusal_names_the_quota_and_its_reset() -> None:
    quota = QuotaState(limit=100, used=150, window_seconds=3600, resets_at=1_772_409_600)
    refusal = token_refusal("alice", quota, now=1_772_409_600 - 10.5)
    assert (refusal.status, refusal.code) == (429, "token_quota")
    assert refusal.headers == {"Retry-After": "11"}
    assert "150 tokens of the quota of 100 per 3600 s" in refusal.message
    assert "2026-03-02T00:00:00Z" in refusal.message
    late = token_refusal("guest-0123456789ab-x", quota, now=1_772_409_600.2)
    assert late.headers == {"Retry-After": "1"}  # never 0, whatever the clock says
    assert late.message.startswith("the guests of your network address used")
