from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from contracts import EventAdapter, JobRequest, Keys, load_pools
from contracts.events import JobEnd, TextDelta
from contracts.keys import event_entry_id, seq_of_entry_id
from contracts.log import text_delta_json, without_seq
from contracts.pools import PoolsConfigError


def test_events_parse_by_type_and_round_trip() -> None:
    raw = '{"seq":3,"job_id":"j","ts":1.5,"type":"text-delta","delta":"Hi"}'
    event = EventAdapter.validate_json(raw)
    assert isinstance(event, TextDelta)
    assert event.delta == "Hi"
    end = JobEnd(job_id="j", seq=4, ts=2.0, status="succeeded", output={"text": "Hi"})
    assert EventAdapter.validate_json(end.model_dump_json()) == end


def test_event_json_without_seq_is_what_the_log_scripts_complete() -> None:
    # The scripts prepend {"seq":N, to the JSON: it must start with '{' and hold no seq.
    payload = TextDelta(job_id="j", seq=1, ts=1.0, delta="x").model_dump_json(exclude={"seq"})
    assert payload.startswith('{"job_id"')
    assert '"seq"' not in payload
    stored = '{"seq":7,' + payload[1:]
    assert EventAdapter.validate_json(stored).seq == 7


ODD_TEXTS = [
    "",
    "x",
    "relay line ",
    'quote " backslash \\ slash / tab \t newline \n nul \x00 del \x7f',
    "é 中文 😀 \u2028 \u2029 \ufeff",
    "\U0010ffff" * 3,
    "a" * 100_000,
]
ODD_TIMES = [0.0, -0.0, 1.0, 1.5, 1e-7, 1795943107.5707514, 2.0**63, 1e300, 5e-324, -1e16]


@pytest.mark.parametrize("delta", ODD_TEXTS)
@pytest.mark.parametrize("ts", ODD_TIMES)
def test_a_text_delta_built_without_its_model_is_the_models_json(ts: float, delta: str) -> None:
    # The worker writes text-deltas through `text_delta_json`; readers parse them as the
    # model, so it must be the model's JSON byte for byte, whatever the text and the time.
    model = TextDelta(job_id="j_0a1b2c3d", seq=1, ts=ts, delta=delta)
    built = text_delta_json("j_0a1b2c3d", ts, delta)
    assert built == without_seq(model)
    assert without_seq(built) is built
    assert EventAdapter.validate_json('{"seq":7,' + built[1:]) == model.model_copy(
        update={"seq": 7}
    )


def test_a_text_delta_that_cannot_be_json_fails_as_its_model_does() -> None:
    lone = "\ud800"  # a lone surrogate: no UTF-8 for it
    with pytest.raises(PydanticSerializationError, match="surrogates not allowed"):
        without_seq(TextDelta(job_id="j", seq=1, ts=1.0, delta=lone))
    with pytest.raises(PydanticSerializationError, match="surrogates not allowed"):
        text_delta_json("j", 1.0, lone)


def test_unknown_event_type_and_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        EventAdapter.validate_json('{"seq":1,"job_id":"j","ts":1,"type":"job-exploded"}')
    with pytest.raises(ValidationError):
        JobRequest.model_validate({"model": "m", "input": {}, "surprise": 1})


def test_keys_use_the_prefix_and_entry_ids_carry_the_seq() -> None:
    keys = Keys("x:", shards=1)
    assert keys.jobs("chat", 0) == "x:{0}:jobs:chat"
    assert keys.events("abc") == "x:{0}:events:abc"
    assert seq_of_entry_id(event_entry_id(42)) == 42
    assert seq_of_entry_id(b"0-9") == 9


def test_default_pools_and_a_broken_pools_file(tmp_path: Path) -> None:
    pools = load_pools()
    assert pools.get("embed") is not None
    broken = tmp_path / "pools.toml"
    broken.write_text('[pools.x]\nkind = "video"\nengine = "e"\n')
    with pytest.raises(PoolsConfigError, match="invalid pools file"):
        load_pools(broken)
    with pytest.raises(PoolsConfigError, match="cannot read"):
        load_pools(tmp_path / "missing.toml")
