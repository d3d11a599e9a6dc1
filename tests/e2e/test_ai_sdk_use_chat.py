"""`useChat` of `@ai-sdk/react` (unmodified) in Chromium against a real edge: the example
component of docs/api.md, built with Vite into a temporary folder (never into the product's
bundle) and served by an edge of its own, same origin, as a guest."""

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import REPOSITORY
from tests.support.stack import LIFTED_GUEST_LIMITS, Edge, Stack
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

PAGE_SOURCE = Path(__file__).with_name("use_chat_page")
WEB = REPOSITORY / "web"


@pytest.fixture(scope="module")
def use_chat_edge(
    redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Edge]:
    """An edge serving the built test page (guest mode), and a worker of the `slow` pool."""
    folder = tmp_path_factory.mktemp("use-chat-page")
    source = folder / "source"
    shutil.copytree(PAGE_SOURCE, source)
    (source / "node_modules").symlink_to(WEB / "node_modules")
    # The docs' example must typecheck (strict) against the installed AI SDK, then build.
    tsc = WEB / "node_modules" / "typescript" / "bin" / "tsc"
    checked = subprocess.run(
        ["node", str(tsc), "-p", "."], cwd=source, capture_output=True, text=True, timeout=180
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    vite = WEB / "node_modules" / "vite" / "bin" / "vite.js"
    dist = folder / "dist"
    build = [
        "node",
        str(vite),
        "build",
        "--outDir",
        str(dist),
        "--emptyOutDir",
        "--logLevel",
        "error",
    ]
    done = subprocess.run(build, cwd=source, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and (dist / "index.html").is_file(), done.stdout + done.stderr
    env = {"EDGE_GUEST_MODE": "true", "EDGE_WEB_DIST": str(dist), **LIFTED_GUEST_LIMITS}
    stack = Stack(redis_server_url, folder)
    try:
        edge = stack.edge(env=env)
        stack.worker("slow", env={"WORKER_CONCURRENCY": "4"})
        yield edge
    finally:
        stack.close()


@pytest.fixture
def context(browser: Browser, use_chat_edge: Edge) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=use_chat_edge.url)
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


def job_of(page: Page, job_id: str) -> dict[str, Any]:
    response = page.request.get(f"/v1/jobs/{job_id}")
    assert response.ok, response.text()
    job: dict[str, Any] = response.json()
    return job


def start_answer(page: Page) -> str:
    """Opens a new chat, asks, waits for the first words; the answer's message id."""
    page.goto(f"/?chat=chat-{uuid.uuid4().hex[:12]}&model=slow")
    expect(page.get_by_test_id("status")).to_have_text("ready")
    page.locator("input").fill("Tell me about the for statement.")
    page.get_by_role("button", name="Send").click()
    assistant = page.locator(".message[data-role=assistant]")
    expect(assistant).to_have_text(re.compile(r"\S"))
    return str(assistant.get_attribute("data-id"))


def test_a_reload_mid_answer_shows_exactly_one_complete_assistant_message(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    resumed: list[int] = []
    page.on(
        "response",
        lambda response: resumed.append(response.status) if "/stream" in response.url else None,
    )
    message_id = start_answer(page)
    page.reload()
    assistant = page.locator(".message[data-role=assistant]")
    expect(assistant).to_have_count(1)
    assert job_of(page, message_id)["status"] == "running"  # reloaded mid-answer
    wait_for(lambda: job_of(page, message_id)["status"] == "succeeded", timeout=60, what="end")
    text = job_of(page, message_id)["output"]["text"]
    expect(page.get_by_test_id("status")).to_have_text("ready")
    expect(assistant).to_have_count(1)
    expect(assistant).to_have_attribute("data-id", message_id)
    expect(assistant).to_have_text(text)
    assert resumed == [204, 200]  # the first load found nothing; the reload resumed
    assert not errors, errors


def test_stop_cancels_the_answer(context: BrowserContext) -> None:
    page = context.new_page()
    message_id = start_answer(page)
    page.get_by_role("button", name="Stop").click()
    wait_for(lambda: job_of(page, message_id)["status"] == "cancelled", what="cancelled")
    expect(page.get_by_test_id("status")).to_have_text("ready")
    page.reload()  # nothing to resume: the stopped answer is not replayed
    expect(page.get_by_test_id("status")).to_have_text("ready")
    expect(page.locator(".message")).to_have_count(0)
