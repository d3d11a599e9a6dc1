"""Small steps the browser tests share: chat in the UI, read a job back from the edge."""

import json
import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

ANY_ID = re.compile(r"^[0-9a-f]{8,}$")


def send_chat(page: Page, text: str, model: str, max_tokens: int | None = None) -> Locator:
    """Sends `text` from the chat page with Enter; returns the answer's message element."""
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")
    page.get_by_label("Model").select_option(model)
    if max_tokens is not None:
        page.get_by_label("Max tokens").fill(str(max_tokens))
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-job-id", ANY_ID)
    return answer


def answer_text(answer: Locator) -> str:
    return answer.get_by_test_id("message-text").inner_text().strip()


def job_record(page: Page, job_id: str) -> dict[str, Any]:
    """The job as its owner sees it, through the page's own cookie."""
    response = page.request.get(f"/v1/jobs/{job_id}")
    assert response.ok, response.text()
    record: dict[str, Any] = response.json()
    return record


def job_events(page: Page, job_id: str) -> list[dict[str, Any]]:
    """Every event of an ended job, from its SSE log (the stream ends after job-end)."""
    response = page.request.get(f"/v1/jobs/{job_id}/events")
    assert response.ok, response.text()
    return [
        json.loads(line[len("data: ") :])
        for line in response.text().splitlines()
        if line.startswith("data: ")
    ]


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(event["delta"] for event in events if event["type"] == "text-delta")
