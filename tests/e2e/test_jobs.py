"""Background jobs in a real browser: progress, two tabs, cancel, another user's job."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Contexts, screenshot
from tests.e2e.helpers import job_events, job_record

pytestmark = pytest.mark.e2e

JOB_PATH = re.compile(r"/jobs/([0-9a-f]{32})$")


def submitted_ids(page: Page, count: int) -> list[str]:
    """The ids in the "Submitted …" notice of the Jobs page."""
    links = page.get_by_role("status").get_by_role("link")
    expect(links).to_have_count(count)
    ids = []
    for link in links.all():
        match = JOB_PATH.search(link.get_attribute("href") or "")
        assert match, link.get_attribute("href")
        ids.append(match.group(1))
    return ids


def test_an_embeddings_job_fills_its_progress_bar_and_shows_the_result(
    page: Page, embed_pool: str
) -> None:
    page.goto("/jobs")
    page.get_by_label("Embeddings model").select_option(embed_pool)
    texts = [f"sentence number {index} about relays and streams" for index in range(16)]
    page.get_by_label("Texts, one per line").fill("\n".join(texts))
    page.get_by_role("button", name="Embed texts").click()
    [job_id] = submitted_ids(page, 1)

    row = page.get_by_test_id(f"job-row-{job_id}")
    expect(row.get_by_role("progressbar")).to_have_attribute("value", "100", timeout=60_000)
    expect(row).to_have_attribute("data-status", "succeeded")
    screenshot(page, "jobs")

    row.get_by_role("link").click()
    expect(page).to_have_url(f"/jobs/{job_id}")
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded")
    expect(page.get_by_label("Progress")).to_have_attribute("value", "100")
    shape = "16 embeddings \N{MULTIPLICATION SIGN} 384 dimensions"
    expect(page.get_by_test_id("job-result")).to_contain_text(shape)
    # The bar moved in steps: the worker encodes 4 texts at a time.
    progress = [event for event in job_events(page, job_id) if event["type"] == "progress"]
    assert [event["done"] for event in progress][-1] == 16 and len(progress) >= 2, progress
    expect(page.get_by_test_id("event-log").get_by_text("progress")).to_have_count(len(progress))
    screenshot(page, "job-embeddings")


def test_two_tabs_watching_one_job_show_the_same_text(contexts: Contexts) -> None:
    context = contexts.new()
    first, second = context.new_page(), context.new_page()
    first.goto("/jobs")
    first.get_by_label("Chat model").select_option("slow")
    first.get_by_label("Prompts, one per line").fill("Say something to both tabs")
    first.get_by_label("Max tokens").fill("100")
    first.get_by_role("button", name="Run prompt").click()
    [job_id] = submitted_ids(first, 1)

    second.goto(f"/jobs/{job_id}")
    first.get_by_role("status").get_by_role("link").click()
    for tab in (first, second):
        expect(tab.get_by_test_id("job-page")).to_have_attribute("data-status", "running")
    for tab in (first, second):
        expect(tab.get_by_test_id("job-status")).to_have_text("succeeded", timeout=30_000)

    output = job_record(first, job_id)["output"]["text"].strip()
    texts = [tab.get_by_test_id("job-result").inner_text().strip() for tab in (first, second)]
    assert texts == [output, output]
    screenshot(first, "two-tabs-first", dark=False)
    screenshot(second, "two-tabs-second", dark=False)


def test_a_batch_of_prompts_runs_one_job_each_and_one_can_be_cancelled(page: Page) -> None:
    page.goto("/jobs")
    page.get_by_label("Chat model").select_option("slow")
    page.get_by_label("Prompts, one per line").fill("first\nsecond\nthird")
    page.get_by_label("Max tokens").fill("100")
    page.get_by_role("button", name="Run 3 prompts").click()
    cancelled, *others = submitted_ids(page, 3)

    page.get_by_role("button", name=f"Cancel job {cancelled[:8]}").click()

    expect(page.get_by_test_id(f"job-row-{cancelled}")).to_have_attribute(
        "data-status", "cancelled"
    )
    for job_id in others:
        row = page.get_by_test_id(f"job-row-{job_id}")
        expect(row).to_have_attribute("data-status", "succeeded", timeout=30_000)
        expect(row.get_by_role("progressbar")).to_have_attribute("value", "100")
    assert job_record(page, cancelled)["status"] == "cancelled"


def test_another_users_job_id_in_the_url_shows_not_found(contexts: Contexts) -> None:
    owner = contexts.new().new_page()
    owner.goto("/jobs")
    response = owner.request.post(
        "/v1/jobs",
        data={"model": "sim", "input": {"messages": [{"role": "user", "content": "mine"}]}},
    )
    assert response.status == 202, response.text()
    job_id = response.json()["id"]
    owner.goto(f"/jobs/{job_id}")
    expect(owner.get_by_test_id("job-status")).to_have_text("succeeded")

    stranger = contexts.new().new_page()
    stranger.goto(f"/jobs/{job_id}")

    expect(stranger.get_by_role("heading", name="Job not found", level=1)).to_be_visible()
    expect(stranger.get_by_test_id("job-page")).to_have_count(0)
    assert stranger.request.get(f"/v1/jobs/{job_id}").status == 404
    screenshot(stranger, "job-not-found")
