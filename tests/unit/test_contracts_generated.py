"""The committed JSON Schema and TypeScript must match what the contracts generate today."""

from contracts.generate import stale_files


def test_generated_contracts_are_fresh() -> None:
    # Needs web/node_modules (json-schema-to-typescript); without it this fails, by design:
    # a stale .gen.ts must never pass unnoticed.
    stale = stale_files()
    assert not stale, f"stale generated files {stale}: run `python -m contracts.generate`"
