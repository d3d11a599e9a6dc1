"""One trace per job, from the edge's submit through Redis to the worker's engine and its end
(contracts.telemetry): in process with the SDK's in-memory exporter (the edge's `JobStore` and
the worker's `TAKE` and `JobRunner` against a real Redis), and across real edge and worker
processes turned on by the standard `OTEL_*` variables."""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from contracts.jobs import JobEnvelope
from contracts.keys import Keys
from contracts.queue import PoolQueues
from contracts.telemetry import install, nanoseconds
from tests.support.client import CHAT_INPUT
from tests.support.runner import REQUEST, ScriptedEngine, scripted_runner, stub_store
from tests.support.stack import Stack, auth
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

SPANS = ("relayline.attempt", "relayline.queue_wait", "relayline.start", "relayline.engine")


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install(provider)  # the process's, once: nothing else in tests sets one
    assert trace.get_tracer_provider() is provider
    yield exporter
    exporter.clear()


def attr(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(name)


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


async def test_one_trace_spans_the_edges_submit_and_the_workers_attempt(
    redis: Redis, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    keys = Keys(f"tr{uuid.uuid4().hex[:10]}:")
    store = stub_store(redis, keys)
    await store.ensure_groups()
    job_id, _ = await store.submit("alice", REQUEST)  # the edge's part
    created_at = float(await redis.hget(keys.job(job_id), "created_at") or 0)
    shard = keys.shard_of_job(job_id)
    taken = await PoolQueues(redis, keys, "p", batch_aging=30).take(
        shard, consumer="w1", now=time.time(), worker="w1"
    )
    [job] = taken.jobs
    envelope = JobEnvelope.model_validate_json(job.envelope)
    assert envelope.trace["traceparent"]  # the submit's context rode in the envelope
    runner = scripted_runner(redis, keys, ScriptedEngine(3))
    assert await runner.run(envelope, job.entry_id, job.started) is True  # the worker's part

    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"relayline.submit", *SPANS, "relayline.end"}
    submit, attempt = spans["relayline.submit"], spans["relayline.attempt"]
    assert {span.context.trace_id for span in spans.values()} == {submit.context.trace_id}
    assert submit.parent is None and attr(submit, "relayline.job_id") == job_id
    assert attempt.parent is not None and attempt.parent.span_id == submit.context.span_id
    for name in ("relayline.queue_wait", "relayline.start", "relayline.engine", "relayline.end"):
        parent = spans[name].parent
        assert parent is not None and parent.span_id == attempt.context.span_id, name
    assert attr(spans["relayline.start"], "relayline.begun_by") == "take"
    assert attr(attempt, "relayline.attempt") == 1
    wait = spans["relayline.queue_wait"]
    assert wait.start_time == nanoseconds(created_at)
    assert wait.end_time is not None and wait.end_time >= wait.start_time
    assert attr(spans["relayline.end"], "relayline.status") == "succeeded"


def console_spans(log: str) -> list[dict[str, Any]]:
    """The spans a process printed with OTEL_TRACES_EXPORTER=console (JSON objects)."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (at := log.find("{\n", at)) != -1:
        try:
            value, end = decoder.raw_decode(log, at)
        except json.JSONDecodeError:
            at += 1
            continue
        if isinstance(value, dict) and "context" in value and "name" in value:
            spans.append(value)
        at = end
    return spans


def test_real_edge_and_worker_processes_trace_a_job_in_one_trace(stack: Stack) -> None:
    tracing = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}
    edge = stack.edge(env=tracing)
    worker = stack.worker("sim", env=tracing)
    answer = httpx.post(
        f"{edge.url}/v1/jobs",
        json={"model": "sim", "input": CHAT_INPUT, "params": {"max_tokens": 3}},
        headers=auth(),
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]

    def traced() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        edges, workers = console_spans(edge.log()), console_spans(worker.log())
        names = {span["name"] for span in workers}
        # the attempt, the parent of the others, ends last: it may be in a later batch; the
        # edge's spans of the submit may also come after the worker's (and its readiness
        # probe's come first)
        printed = {span["name"] for span in edges} >= {"relayline.submit", "POST /v1/jobs"}
        return (edges, workers) if printed and names >= {*SPANS, "relayline.end"} else None

    found = wait_for(traced, what="both processes to print their spans")
    assert found is not None
    edges, workers = found
    [submit] = [span for span in edges if span["name"] == "relayline.submit"]
    assert submit["attributes"]["relayline.job_id"] == job_id
    assert submit["resource"]["attributes"]["service.name"] == "relayline-edge"
    trace_id = submit["context"]["trace_id"]
    # FastAPI's span of the request (told of the tracer at start-up, `edge.main`) holds it
    [request] = [span for span in edges if span["name"] == "POST /v1/jobs"]
    assert request["kind"] == "SpanKind.SERVER"
    assert submit["parent_id"] == request["context"]["span_id"]
    assert {span["name"] for span in workers} >= {*SPANS, "relayline.end"}
    assert {span["context"]["trace_id"] for span in workers} == {trace_id}
    assert {span["resource"]["attributes"]["service.name"] for span in workers} == {
        "relayline-worker"
    }
