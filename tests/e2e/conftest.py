"""Browser fixtures: one real stack and one Chromium (Debian's; never downloaded) for this
package. Package scope, not session: sync Playwright runs an event loop in the main thread
while it lives, and the asyncio tests that run after this package need that thread free.

The stack (Redis, one edge serving the built web app in guest mode, workers for the `sim`,
`slow` and, on first use, `embed` pools) is shared by every browser test: each test gets its
own browser context, hence its own guest cookie and user, so tests never see each other's
jobs. Screenshots go to test-artifacts/e2e/, and a failing test leaves one of every open page.
"""

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.stack import LIFTED_GUEST_LIMITS, Edge, Stack

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
# Several jobs run at once per worker, so one test's long answer never queues another's.
WORKER_ENV = {"WORKER_CONCURRENCY": "8"}


@dataclass
class WebStack:
    stack: Stack
    edge: Edge

    @property
    def url(self) -> str:
        return self.edge.url


@dataclass
class PageWatch:
    """What a page did that it should not: script errors, requests to other hosts."""

    host: str
    errors: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.hosts.add(urlsplit(request.url).netloc))

    def assert_clean(self) -> None:
        assert not self.errors, self.errors
        assert self.hosts <= {self.host}, f"the page loaded from other hosts: {self.hosts}"


def screenshot(page: Page, name: str, dark: bool = True) -> None:
    """`name`.png in light, and `name`-dark.png with prefers-color-scheme: dark."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.emulate_media(color_scheme="light")
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    if dark:
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=ARTIFACTS / f"{name}-dark.png", full_page=True)
        page.emulate_media(color_scheme="light")


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remembers whether the test body failed, for the failure screenshots below."""
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture(scope="package")
def web_stack(
    redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    # Fail, not skip: a missing build would otherwise pass `make test` without any browser test.
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(
            f"{WEB_DIST}/index.html is missing: build the web app first "
            "(npm --prefix web ci && npm --prefix web run build)"
        )
    stack = Stack(redis_server_url, tmp_path_factory.mktemp("web-stack"))
    try:
        # Every browser context is a new guest from 127.0.0.1: lift the per-address
        # limits of new guest ids and of the guests' shared tier (browsers of a real
        # deployment come from many addresses).
        env = {"EDGE_GUEST_MODE": "true", "EDGE_WEB_DIST": str(WEB_DIST)}
        edge = stack.edge(env={**env, **LIFTED_GUEST_LIMITS})
        # Both workers start together; then wait for both heartbeats.
        workers = [stack.worker(pool, env=WORKER_ENV, wait=False) for pool in ("sim", "slow")]
        for worker in workers:
            stack.wait_worker(worker)
        yield WebStack(stack, edge)
    finally:
        stack.close()


@pytest.fixture(scope="package")
def embed_pool(web_stack: WebStack) -> str:
    """The `embed` pool with a live worker (it loads a real model, so only when asked)."""
    web_stack.stack.worker("embed", env={"WORKER_CONCURRENCY": "2"})
    return "embed"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Contexts:
    """Browser contexts of one test: each is a separate guest user (its own cookie)."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.watch = PageWatch(host=urlsplit(base_url).netloc)
        self.opened: list[BrowserContext] = []

    def new(self) -> BrowserContext:
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": 1200, "height": 800}
        )
        context.set_default_timeout(20_000)
        context.on("page", self.watch.attach)
        self.opened.append(context)
        return context

    def pages(self) -> list[Page]:
        return [page for context in self.opened for page in context.pages]


@pytest.fixture
def contexts(
    browser: Browser, web_stack: WebStack, request: pytest.FixtureRequest
) -> Iterator[Contexts]:
    """Opens contexts for the test, closes them after; no page may fail or call other hosts."""
    opened = Contexts(browser, web_stack.url)
    yield opened
    failed = request.node.stash.get(_FAILED, True)
    try:
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for index, page in enumerate(opened.pages()):
                page.screenshot(path=ARTIFACTS / f"FAILED-{request.node.name}-{index}.png")
        else:
            opened.watch.assert_clean()
    finally:
        for context in opened.opened:
            context.close()


@pytest.fixture
def page(contexts: Contexts) -> Page:
    """A page of a fresh guest user, with relative URLs resolved against the edge."""
    return contexts.new().new_page()
