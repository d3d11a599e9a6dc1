"""The chat's Markdown in a real browser, from the production build: the renderer and the
highlighter load as lazy chunks, code has a working copy button, and HTML from a model stays
text. The answer is a stored conversation (models here write no Markdown): the page renders a
stored answer exactly as one that has just streamed."""

import json
import time
import uuid

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

CODE = "def answer():\n    return 42  # the answer"

ANSWER = "\n".join(
    [
        "Here is the **plan**, see the [docs](https://example.com/docs):",
        "",
        "| Step | Owner |",
        "| :--- | ---: |",
        "| Build | *Ana* |",
        "",
        "- Backend",
        "  - Edge",
        "",
        "<script>alert('script')</script>",
        "",
        "Inline <img src=x onerror=alert('img')> and [click](javascript:alert('link')).",
        "",
        "![pixel](https://tracker.example/p.png)",
        "",
        "```python",
        CODE,
        "```",
    ]
)

_SEED = """([prefix, conversation]) => {
  localStorage.setItem(prefix + 'conversation.' + conversation.id, JSON.stringify(conversation))
  localStorage.setItem(prefix + 'index', JSON.stringify([
    {id: conversation.id, title: conversation.title, updatedAt: conversation.updatedAt},
  ]))
  localStorage.setItem(prefix + 'active', conversation.id)
}"""


def open_stored_answer(page: Page, content: str) -> None:
    """Opens the chat on a new stored conversation whose answer is `content`."""
    now = int(time.time() * 1000)
    answer = {"jobId": None, "idempotencyKey": "k", "lastSeq": 0, "attempt": 1, "state": "done"}
    conversation = {
        "id": uuid.uuid4().hex,
        "title": "Markdown",
        "model": None,
        "updatedAt": now,
        "messages": [
            {"id": "u1", "role": "user", "content": "The plan?"},
            {"id": "a1", "role": "assistant", "content": content, "answer": answer},
        ],
    }
    page.goto("/chat")
    page.evaluate(_SEED, ["relayline.chat.v1.", conversation])
    page.reload()


def test_an_answer_renders_as_markdown_with_highlighted_code_and_no_html(page: Page) -> None:
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_stored_answer(page, ANSWER)

    body = page.get_by_test_id("assistant-message").last.get_by_test_id("message-text")
    expect(body.locator("table th")).to_have_text(["Step", "Owner"])
    expect(body.locator("table td em")).to_have_text("Ana")
    expect(body.locator(".markdown > ul > li > ul > li")).to_have_text("Edge")
    expect(body.get_by_role("link", name="docs")).to_have_attribute(
        "rel", "noopener noreferrer nofollow"
    )

    # HTML stays text; no script ran, no image loaded (the page watch fails the test on any
    # request to another host), and the javascript: link is only words.
    expect(body.locator("script, img, iframe")).to_have_count(0)
    expect(body).to_contain_text("<script>alert('script')</script>")
    expect(body).to_contain_text("<img src=x onerror=alert('img')>")
    expect(body.get_by_role("link", name="click")).to_have_count(0)
    expect(body.get_by_role("link", name="pixel")).to_have_attribute(
        "href", "https://tracker.example/p.png"
    )

    code = body.locator("figure.code-block code")
    expect(code).to_have_attribute("data-highlighted", "true")
    assert code.inner_text() == CODE
    script = "spans => spans.map(span => getComputedStyle(span).color)"
    light = code.locator("span[style]").evaluate_all(script)
    assert len(set(light)) > 2, light
    page.emulate_media(color_scheme="dark")
    dark = code.locator("span[style]").evaluate_all(script)
    assert len(set(dark)) > 2 and dark != light, dark
    page.emulate_media(color_scheme="light")

    body.get_by_role("button", name="Copy").click()
    expect(body.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == CODE
    assert dialogs == []
    screenshot(page, "chat-markdown")


def test_the_renderer_and_the_highlighter_are_chunks_of_their_own(page: Page) -> None:
    scripts: list[str] = []
    page.on("request", lambda request: scripts.append(request.url.rsplit("/", 1)[-1]))
    page.goto("/jobs")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # The renderer is fetched beside the first render; Shiki only with a code block.
    page.wait_for_load_state("networkidle")
    assert any(name.startswith("MarkdownRenderer-") for name in scripts), scripts
    assert not any(name.startswith("highlight-") for name in scripts), scripts

    open_stored_answer(page, json.dumps({"no": "code"}))
    expect(page.get_by_test_id("assistant-message").last).to_contain_text('{"no": "code"}')
    page.wait_for_load_state("networkidle")
    assert not any(name.startswith("highlight-") for name in scripts), scripts

    open_stored_answer(page, "```python\nprint(1)\n```")
    expect(page.locator("figure.code-block code")).to_have_attribute("data-highlighted", "true")
    assert any(name.startswith("highlight-") for name in scripts), scripts
    assert any(name.startswith("python-") for name in scripts), scripts
