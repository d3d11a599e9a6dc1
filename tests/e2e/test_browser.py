"""The System page of the built web app, served by a real edge, in a real Chromium."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import WebStack, screenshot

pytestmark = pytest.mark.e2e


def test_system_page_lists_pools_with_live_workers(web_stack: WebStack, page: Page) -> None:
    page.goto("/system")

    expect(page.get_by_role("heading", name="System", level=1)).to_be_visible()
    for pool, kind in (("sim", "chat"), ("slow", "chat"), ("embed", "embeddings")):
        expect(page.get_by_test_id(f"model-{pool}")).to_contain_text(kind)
    # The page polls the pools, so a heartbeat that lands late still shows up.
    expect(page.get_by_test_id("workers-sim")).to_have_text("1", timeout=15_000)
    expect(page.get_by_test_id("workers-slow")).to_have_text("1")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")
    expect(page.get_by_role("link", name="API documentation")).to_have_attribute("href", "/docs")

    # Some work for the sim pool: its recent throughput and the chart come alive.
    chat = {"messages": [{"role": "user", "content": "count me"}]}
    for _ in range(6):
        response = page.request.post("/v1/jobs", data={"model": "sim", "input": chat})
        assert response.status == 202, response.text()
    expect(page.get_by_test_id("rate-sim")).not_to_have_text("0.0", timeout=15_000)
    expect(page.get_by_test_id("throughput-chart").locator("polyline")).not_to_have_count(0)
    screenshot(page, "system")

    # The pools came through the guest cookie the edge set, with no API key.
    cookies = {cookie.get("name") for cookie in page.context.cookies()}
    assert "rl_guest" in cookies, cookies


def test_unknown_path_is_served_the_app_and_says_page_not_found(page: Page) -> None:
    page.goto("/no/such/page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page).to_have_url("/jobs")
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_focused()
