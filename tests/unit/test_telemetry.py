"""Tracing is off unless the standard OTEL_* variables turn it on (contracts.telemetry)."""

import os
import subprocess
import sys

import pytest

from contracts.telemetry import configure, enabled


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "TRUE "}, False),
    ],
)
def test_the_otel_variables_decide(environ: dict[str, str], on: bool) -> None:
    assert enabled(environ) is on


def test_configure_does_nothing_when_off_and_refuses_an_unknown_exporter() -> None:
    assert configure("relayline-edge", {}) is False
    with pytest.raises(ValueError, match="'zipkin' is not one of otlp, console"):
        configure("relayline-edge", {"OTEL_TRACES_EXPORTER": "zipkin"})


def test_without_the_variables_an_envelope_carries_no_trace_context() -> None:
    """In a fresh process (a tracer provider is set once per process)."""
    code = (
        "from contracts.telemetry import TRACER, carrier, configure\n"
        "assert configure('relayline-edge') is False\n"
        "with TRACER.start_as_current_span('relayline.submit'):\n"
        "    print(carrier())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "{}"), done.stderr
