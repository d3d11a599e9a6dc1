"""Chat in a real browser against real edge and workers: streaming, reload, stop."""

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocket, expect

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import answer_text, job_events, job_record, send_chat, streamed_text

pytestmark = pytest.mark.e2e

# A seq of two digits or more: the answer is well under way.
_AT_LEAST_TEN = re.compile(r"^[1-9][0-9]+$")


def test_a_chat_message_streams_an_answer(page: Page) -> None:
    page.goto("/chat")
    answer = send_chat(page, "Tell me about **relays**", model="slow", max_tokens=60)

    # Seen mid-stream: some text, not all of it yet.
    expect(answer).to_have_attribute("data-state", "streaming")
    expect(answer.get_by_test_id("message-text")).not_to_be_empty()
    partial = answer_text(answer)
    expect(answer).to_have_attribute("data-state", "done")

    job_id = answer.get_attribute("data-job-id")
    assert job_id
    record = job_record(page, job_id)
    assert record["status"] == "succeeded"
    assert answer_text(answer) == record["output"]["text"].strip()
    assert partial != answer_text(answer) and record["output"]["text"].startswith(partial)
    expect(page.get_by_test_id("user-message")).to_contain_text("Tell me about **relays**")
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible()
    screenshot(page, "chat")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_label("Your message")).to_be_in_viewport()
    screenshot(page, "chat-narrow", dark=False)


def test_a_reload_mid_stream_continues_the_same_answer_exactly(page: Page) -> None:
    subscribes: list[dict[str, Any]] = []

    def record_frames(socket: WebSocket) -> None:
        def sent(payload: str | bytes) -> None:
            message = json.loads(payload)
            if message.get("type") == "subscribe":
                subscribes.append(message)

        socket.on("framesent", sent)

    page.on("websocket", record_frames)
    page.goto("/chat")
    answer = send_chat(page, "A long answer, please", model="slow", max_tokens=80)
    job_id = answer.get_attribute("data-job-id")
    expect(answer).to_have_attribute("data-seq", _AT_LEAST_TEN)

    page.reload()

    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-job-id", job_id or "")
    # Resumed after the stored seq, not from the start: the edge sends only what is missing.
    expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
    resumed = [message for message in subscribes if message["job_id"] == job_id]
    assert resumed[-1]["after"] >= 10, resumed

    assert job_id
    record = job_record(page, job_id)
    assert record["status"] == "succeeded" and record["attempt"] == 1
    assert answer_text(answer) == record["output"]["text"].strip()
    jobs = page.request.get("/v1/jobs").json()["data"]
    assert [job["id"] for job in jobs] == [job_id], "the reload submitted the question again"
    screenshot(page, "chat-after-reload", dark=False)


def test_stop_ends_the_answer(page: Page) -> None:
    page.goto("/chat")
    answer = send_chat(page, "Go on and on", model="slow")
    expect(answer).to_have_attribute("data-state", "streaming")
    expect(answer.get_by_test_id("message-text")).not_to_be_empty()

    page.get_by_role("button", name="Stop").click()

    expect(answer).to_have_attribute("data-state", "stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    job_id = answer.get_attribute("data-job-id")
    assert job_id
    assert job_record(page, job_id)["status"] == "cancelled"
    events = job_events(page, job_id)
    assert events[-1]["type"] == "job-end" and events[-1]["status"] == "cancelled"
    # The page shows exactly what was generated before the stop: far from the 400 tokens.
    assert answer_text(answer) == streamed_text(events).strip()
    assert len(streamed_text(events).split()) < 400
    screenshot(page, "chat-stopped", dark=False)
