"""Property-based fuzzing of a real edge: schemathesis over `/openapi.json` with the bearer
header, and Hypothesis over WebSocket messages. No input gets a 5xx (or a WebSocket
`internal_error`, or a dropped socket), and the stack still serves afterwards. Bounded:
a few dozen examples per operation."""

import json
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from websockets.sync.client import ClientConnection, connect

from contracts.wire import CLIENT_MESSAGE_TYPES
from tests.adversarial.inputs_support import BOUNDS
from tests.support.client import assert_complete, submit
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth

pytestmark = pytest.mark.integration

EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzz_edge(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    stack = Stack(redis_server_url, tmp_path_factory.mktemp("fuzz"))
    try:
        edge = stack.edge(env=LIFTED_LIMITS)  # hundreds of requests, as one user
        stack.worker("sim")
        yield edge
    finally:
        stack.close()


def test_no_input_gets_a_5xx(fuzz_edge: Edge) -> None:
    """Every operation of `/openapi.json`, with schemathesis's generated cases (valid ones
    and ones that break the schema), called with the bearer header."""
    schema = schemathesis.openapi.from_url(f"{fuzz_edge.url}/openapi.json")
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def each(case: Any) -> None:
            response = case.call(headers=auth(), timeout=30)
            where = (case.method, case.formatted_path, response.text[:300])
            assert response.status_code < 500, where
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                error = response.json()["error"]
                assert error["message"] and error["code"], where

        each()


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([*BOUNDS, 0, 2**53 - 1, float("nan"), float("inf"), 1.5]),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["\ud800", "f" * 32, "x" * 5000, "sim", "embed"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
_CONTENT = st.sampled_from(["hi", "\ud800", "a\udfff", "\U0001f600"]) | st.text(max_size=20)
_CHAT_SUBMIT = st.fixed_dictionaries(
    {
        "type": st.just("submit"),
        "request": st.fixed_dictionaries(
            {
                "model": st.just("sim"),
                "input": st.fixed_dictionaries(
                    {
                        "messages": st.lists(
                            st.fixed_dictionaries({"role": st.just("user"), "content": _CONTENT}),
                            min_size=1,
                            max_size=2,
                        )
                    }
                ),
                "params": st.dictionaries(
                    st.sampled_from(["seed", "max_tokens", "temperature", "stop"]), _SCALARS
                ),
            }
        ),
        "subscribe": st.just(False),
    }
)
_MESSAGES = st.fixed_dictionaries(
    {"type": st.sampled_from([*CLIENT_MESSAGE_TYPES, "bogus"])},
    optional={
        "job_id": _JSON,
        "after": _JSON,
        "ref": _JSON,
        "request": st.fixed_dictionaries(
            {"model": st.sampled_from(["sim", "embed", "nope"]), "input": _JSON},
            optional={"params": st.dictionaries(st.sampled_from(["seed", "max_tokens"]), _JSON)},
        ),
        "subscribe": _JSON,
    },
)


def _encode(message: Any) -> str:
    return json.dumps(message, ensure_ascii=True)  # lone surrogates travel as JSON escapes


def test_websocket_messages_never_break_the_socket(fuzz_edge: Edge) -> None:
    with connect(fuzz_edge.ws_url, additional_headers=auth(), open_timeout=10) as connection:

        @given(message=_MESSAGES | _CHAT_SUBMIT | _JSON)
        @settings(
            max_examples=200,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def each(message: Any) -> None:
            connection.send(_encode(message))
            connection.send('{"type": "ping", "ref": "fuzz"}')
            _until_pong(connection)

        each()


def _until_pong(connection: ClientConnection) -> None:
    while True:
        reply = json.loads(connection.recv(timeout=30))
        assert reply.get("code") != "internal_error", reply
        if reply == {"type": "pong", "ref": "fuzz"}:
            return


def test_query_and_header_values_never_get_a_5xx(fuzz_edge: Edge) -> None:
    """Positions, cursors and limits as any Latin-1 text or number, on a job of one's own."""
    job_id = submit(fuzz_edge, model="sim", params={"max_tokens": 2})
    latin1 = st.text(alphabet=st.characters(max_codepoint=255, exclude_characters="\r\n\x00"))
    numbers = st.integers() | st.floats() | st.sampled_from(BOUNDS)
    value = latin1 | numbers.map(str) | st.sampled_from(["9" * 5000, "\xb2", "nan", "-0"])
    key = auth()["Authorization"].encode()
    with httpx.Client(base_url=fuzz_edge.url, timeout=30) as client:

        @given(text=value, which=st.sampled_from(["header", "after", "cursor", "limit"]))
        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def each(text: str, which: str) -> None:
            headers = [(b"Authorization", key)]
            if which == "header":
                headers.append((b"Last-Event-ID", text.strip(" \t").encode("latin-1")))
                response = client.get(f"/v1/jobs/{job_id}/events", headers=headers)
            elif which == "after":
                response = client.get(
                    f"/v1/jobs/{job_id}/events", params={"after": text}, headers=headers
                )
            else:
                response = client.get("/v1/jobs", params={which: text}, headers=headers)
            assert response.status_code < 500, (which, text[:100], response.text[:300])

        each()


async def test_the_stack_still_serves_after_the_fuzzing(fuzz_edge: Edge) -> None:
    job_id = submit(fuzz_edge, model="sim", user="bob", params={"max_tokens": 5})
    events = []
    url = f"{fuzz_edge.url}/v1/jobs/{job_id}/events"
    with httpx.stream("GET", url, headers=auth("bob"), timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert_complete(events)
