"""The built web app, served by a real edge, in a real Chromium (Debian's; never downloaded)."""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.stack import Stack

REPOSITORY = Path(__file__).resolve().parents[2]
WEB_DIST = REPOSITORY / "web" / "dist"
ARTIFACTS = REPOSITORY / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.e2e


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_home_page_lists_models_with_live_workers(stack: Stack, page: Page) -> None:
    # Fail, not skip: a missing build would otherwise pass `make test` without any browser test.
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(
            f"{WEB_DIST}/index.html is missing: build the web app first "
            "(npm --prefix web ci && npm --prefix web run build)"
        )
    stack.worker("sim")
    edge = stack.edge(env={"EDGE_GUEST_MODE": "true", "EDGE_WEB_DIST": str(WEB_DIST)})
    requested_hosts: set[str] = set()
    page.on("request", lambda request: requested_hosts.add(urlsplit(request.url).netloc))
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    page.goto(edge.url)
    try:
        expect(page.get_by_role("heading", name="Relayline", level=1)).to_be_visible()
        for pool, kind in (("sim", "chat"), ("slow", "chat"), ("embed", "embeddings")):
            expect(page.get_by_test_id(f"model-{pool}")).to_contain_text(kind)
        # The page refreshes the list, so a heartbeat that lands late still shows up.
        expect(page.get_by_test_id("workers-sim")).to_have_text("1", timeout=15_000)
        expect(page.get_by_test_id("workers-slow")).to_have_text("0")
        expect(page.get_by_role("link", name="API documentation")).to_have_attribute(
            "href", "/docs"
        )
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "home.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=ARTIFACTS / "home-dark.png", full_page=True)

    # The models came through the guest cookie the edge set, with no API key.
    cookies = {cookie.get("name") for cookie in page.context.cookies()}
    assert "rl_guest" in cookies, cookies
    assert requested_hosts == {urlsplit(edge.url).netloc}, "the page loaded from other hosts"
    assert not page_errors, page_errors
