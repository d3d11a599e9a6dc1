"""The AsyncAPI document: served by the edge at `/asyncapi.json` with a page at `/asyncapi`,
naming every message the contracts define, agreeing with the worker's own FastStream
description of the job streams, and checked for staleness like the TypeScript types."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from faststream.specification import AsyncAPI

from contracts import asyncapi
from contracts.events import EVENT_TYPES
from contracts.generate import SCHEMA_FOLDER, TYPESCRIPT_FOLDER, stale_files
from contracts.keys import GROUP, shard_tags
from contracts.wire import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES
from edge.asyncapi_page import render
from edge.main import create_app
from edge.settings import Settings
from worker.app import Worker
from worker.settings import Settings as WorkerSettings


@pytest.fixture(scope="module")
def client() -> TestClient:
    # No `with`: the lifespan (Redis) does not run; the documents need none.
    return TestClient(create_app(Settings(api_keys="key:user")))


def _served(client: TestClient) -> dict[str, Any]:
    response = client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = json.loads(response.content)
    return document


def test_the_served_document_names_every_message_of_the_contracts(client: TestClient) -> None:
    document = _served(client)
    assert document["asyncapi"] == "3.0.0"
    messages = document["components"]["messages"]
    named = {message["name"]: message for message in messages.values()}
    for kind in (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES, *EVENT_TYPES):
        assert kind in named, f"{kind!r} is not in the AsyncAPI document"
        message = named[kind]
        assert message.get("description"), f"{kind!r} has no description (a docstring)"
        schema = document["components"]["schemas"][message["payload"]["$ref"].split("/")[-1]]
        assert schema["properties"]["type"]["const"] == kind
    websocket = document["channels"]["websocket"]
    assert websocket["address"] == "/v1/ws"
    assert len(websocket["messages"]) == (
        len(CLIENT_MESSAGE_TYPES) + len(SERVER_MESSAGE_TYPES) + len(EVENT_TYPES)
    )
    operations = document["operations"]
    for kind in CLIENT_MESSAGE_TYPES:
        assert operations[f"receive-{kind}"]["action"] == "receive"
    sent = {ref["$ref"].split("/")[-1] for ref in operations["send-events"]["messages"]}
    assert {named[kind]["title"] for kind in EVENT_TYPES} == sent
    assert document == asyncapi.document(), "the committed document is stale"


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)] + (
            [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        )
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_every_reference_in_the_document_resolves(client: TestClient) -> None:
    document = _served(client)
    for ref in _refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]


def test_the_page_shows_every_message_and_runs_no_script(client: TestClient) -> None:
    response = client.get("/asyncapi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<script" not in page.lower()
    assert not re.search(r"<link|src=|url\(|@import", page), "the page loads something"
    assert 'href="/asyncapi.json"' in page
    assert "<code>/v1/ws</code>" in page
    for kind in (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES, *EVENT_TYPES):
        assert f"<code>{kind}</code>" in page, kind
    anchors = set(re.findall(r'id="([^"]+)"', page))
    assert set(re.findall(r'href="#([^"]+)"', page)) <= anchors, "a link to no anchor"
    assert client.get("/asyncapi/anything").status_code == 404  # not the web app


def test_the_page_escapes_what_the_document_says() -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    document = asyncapi.document()
    document["info"]["description"] = hostile
    document["components"]["messages"]["Ping"]["description"] = hostile
    document["components"]["schemas"]["Ping"]["description"] = hostile
    page = render(document, "/asyncapi.json?<x>")
    assert "<script" not in page and "<img" not in page
    assert page.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") >= 2
    assert "/asyncapi.json?&lt;x&gt;" in page


def test_the_job_streams_are_what_the_worker_s_faststream_app_describes() -> None:
    worker = Worker(WorkerSettings(pool="chat", redis_url="redis://127.0.0.1:1/0"))
    spec = AsyncAPI(worker.broker, schema_version="3.0.0").to_specification().to_jsonable()
    ours = asyncapi.document()
    channel = ours["channels"]["jobStreams"]
    assert ours["channels"]["jobStreams"]["bindings"]["redis"]["groupName"] == GROUP
    addresses = {
        channel["address"].replace("{shard}", "{" + tag + "}").replace("{pool}", "chat")
        for tag in shard_tags(worker.keys.shards)
    }
    theirs = spec["channels"].values()
    assert {described["address"] for described in theirs} == addresses
    for described in theirs:
        assert described["bindings"]["redis"]["groupName"] == GROUP
    payload = spec["components"]["schemas"]["JobEnvelope"]
    documented = ours["components"]["schemas"]["JobEnvelope"]

    def untitled(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {k: v for k, v in p.items() if k != "title"} for name, p in properties.items()
        }

    assert untitled(payload["properties"]) == untitled(documented["properties"])


def test_the_staleness_check_names_an_outdated_document(tmp_path: Path) -> None:
    # Needs web/node_modules, as the check itself does (it compiles the TypeScript too).
    schema, typescript = tmp_path / "schema", tmp_path / "ts"
    shutil.copytree(SCHEMA_FOLDER, schema)
    shutil.copytree(TYPESCRIPT_FOLDER, typescript)
    committed = json.loads((schema / asyncapi.FILE_NAME).read_text())
    del committed["components"]["messages"]["JobEnd"]
    (schema / asyncapi.FILE_NAME).write_text(json.dumps(committed, indent=2) + "\n")
    assert stale_files(schema, typescript) == ["schema/asyncapi.json"]
