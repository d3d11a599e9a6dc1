"""/docs in a real Chromium that can reach nothing but the edge, as on a machine without
internet access: Swagger UI comes from the installed package and renders the API."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

from tests.e2e.conftest import Contexts, WebStack, screenshot

pytestmark = pytest.mark.e2e


def test_api_docs_render_offline(web_stack: WebStack, contexts: Contexts) -> None:
    context = contexts.new()
    edge = urlsplit(web_stack.url).netloc
    refused: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == edge:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    page.goto("/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Relayline")
    expect(page.locator(".opblock-summary-path", has_text="/v1/jobs").first).to_be_visible()
    screenshot(page, "api-docs", dark=False)
    assert not refused, f"/docs asked for other hosts: {refused}"
