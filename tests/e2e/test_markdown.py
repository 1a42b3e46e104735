"""A markdown reply in a real browser: code blocks with a Copy button that confirms, quotes, tables, long
lines that stay inside the message on a phone, safe links, and a clean title from a chatty model."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from services.config import PROJECT_ROOT
from tests.e2e.test_shell import _sign_up, at
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("SOLO_SCREENSHOTS", PROJECT_ROOT / ".data" / "test" / "screens"))

CODE = (
    "def fib(n):\n"
    "    a, b = 0, 1\n"
    "    for _ in range(n):\n"
    "        a, b = b, a + b\n"
    "    return a  # a long comment to check that long lines of code scroll inside the block, "
    "never widening the message column, even on a narrow phone screen"
)
LONG_WORD = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3
REPLY = f"""# Fibonacci, briefly

Here is a **markdown** reply with `inline code` and a [link](https://example.com/docs).

> Quoted wisdom: measure before you optimise.

```python
{CODE}
```

| Bird | Wingspan (m) | Diet | Habitat | Migrates | Conservation status |
|---|---:|---|---|---|---|
| Pelican | 3.0 | fish | coasts and lakes | partly | least concern |
| Albatross | 3.5 | squid | open ocean | yes | near threatened |

## How it works

Each number is the sum of the two before it. The loop keeps only the last two, so it needs constant memory
however far it counts.

1. first item
2. second item
   - a nested point

---

A very long word: {LONG_WORD} done."""


def reply_with(text: str, title: str):  # type: ignore[no-untyped-def]
    def reply(body: dict[str, Any]) -> str:
        if any("short title" in str(m.get("content", "")) for m in body.get("messages", [])):
            return title
        return text

    return reply


async def _no_overflow(page: Page) -> None:
    sizes = await page.evaluate(
        """() => {
          const m = document.getElementById("messages");
          return {sw: m.scrollWidth, cw: m.clientWidth,
                  doc: document.documentElement.scrollWidth, vw: window.innerWidth};
        }"""
    )
    wide = await page.evaluate(
        """() => {
          const m = document.getElementById("messages");
          const r = m.getBoundingClientRect().right;
          return [...m.querySelectorAll("*")].filter(e => e.getBoundingClientRect().right > r - 1)
            .slice(0, 12).map(e => e.tagName + "." + e.className + " " + e.getBoundingClientRect().right
              + " " + getComputedStyle(e).marginRight + " " + (e.textContent || "").slice(0, 30));
        }"""
    )
    assert sizes["sw"] <= sizes["cw"], f"#messages overflows sideways: {sizes} {wide}"
    assert sizes["doc"] <= sizes["vw"], f"the page overflows sideways: {sizes}"


@pytest.fixture(autouse=True)
def _screens_dir() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


async def _shoot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"markdown-{name}.png"))


async def test_markdown_reply_reads_well_and_code_copies(app_server, page: Page, llm: FakeLLMServer) -> None:
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=app_server.url("/")[:-1]
    )
    await _sign_up(page, app_server.url("/signup"), "Marta", f"md-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    llm.configure(reply=reply_with(REPLY, '**Title:** "Fibonacci in `Python`."'), tokens_per_second=2000)
    await page.get_by_label("Message").fill("Explain Fibonacci with code, a quote and a table")
    await page.get_by_role("button", name="Send").click()
    reply = page.locator(".solo-message[data-role='assistant']").last
    await expect(reply).to_contain_text("done.", timeout=20_000)

    # The model's markdown-laden title is cleaned before it names the chat.
    await expect(
        page.locator(".solo-sidebar").get_by_role("link", name="Fibonacci in Python")
    ).to_be_visible()

    # A heading sized for a bubble, a quote with a left border, a link that opens safely.
    h1_size = await reply.locator("h1").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    body_size = await reply.locator("p").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert body_size < h1_size <= body_size * 1.5
    quote = reply.locator("blockquote")
    await expect(quote).to_contain_text("measure before you optimise")
    assert await quote.evaluate("e => parseFloat(getComputedStyle(e).borderLeftWidth)") >= 2
    link = reply.get_by_role("link", name="link")
    await expect(link).to_have_attribute("target", "_blank")
    rel = (await link.get_attribute("rel") or "").split()
    assert {"noopener", "noreferrer"} <= set(rel)

    # The code block names its language; its Copy button is quiet until the block is hovered or focused.
    block = reply.locator(".solo-code")
    copy = block.get_by_role("button", name="Copy code")
    await expect(block.locator(".solo-code-lang")).to_have_text("python")
    await page.mouse.move(1, 1)
    await expect(copy).to_have_css("opacity", "0")
    await _shoot(page, "desktop-light")
    # The user scrolls up to the code (the page follows the newest message until the user scrolls), then points.
    await block.hover()
    await page.mouse.wheel(0, -40)
    await block.hover()
    await expect(copy).to_have_css("opacity", "1")
    await page.mouse.move(1, 1)

    # From the keyboard: Shift+Tab from the code reaches the button, Enter copies, and it says so for ~2 s.
    await block.locator("pre").focus()
    await page.keyboard.press("Shift+Tab")
    await expect(copy).to_be_focused()
    await expect(copy).to_have_css("opacity", "1")
    await page.keyboard.press("Enter")
    await expect(block.get_by_role("button", name="Copied")).to_be_visible()
    await expect(block.get_by_role("status")).to_have_text("Code copied to the clipboard")
    assert await page.evaluate("navigator.clipboard.readText()") == CODE
    await _shoot(page, "desktop-copied")
    await expect(copy).to_be_visible(timeout=4_000)
    await expect(block.get_by_role("status")).to_have_text("")

    # On a phone nothing widens the message column: code and the table scroll inside their own frames.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(reply.locator(".solo-code")).to_be_visible()
    await reply.locator(".solo-code").evaluate("e => e.scrollIntoView({block: 'nearest'})")
    await _no_overflow(page)
    pre = block.locator("pre")
    assert await pre.evaluate("e => e.scrollWidth > e.clientWidth")
    table = reply.locator(".solo-md-table")
    assert await table.evaluate("e => e.scrollWidth > e.clientWidth")
    await _shoot(page, "phone-light")
    await page.evaluate("document.getElementById('messages').scrollTo(0, 1e6)")
    await _shoot(page, "phone-light-end")

    await page.emulate_media(color_scheme="dark")
    # The code theme changes with the colour mode: the block is drawn again once, then scrolled to.
    await expect(block.locator("pre")).to_be_visible()
    await page.wait_for_function("!!document.querySelector('html.dark')")
    await block.evaluate("e => e.scrollIntoView({block: 'nearest'})")
    await _no_overflow(page)
    await _shoot(page, "phone-dark")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await _no_overflow(page)
    await _shoot(page, "desktop-dark")

    # A follow-up re-renders the conversation; the first reply's code keeps its place (it is not rebuilt).
    pre = reply.locator(".solo-code pre")
    await pre.evaluate("e => { e.scrollLeft = 120; }")
    await page.get_by_label("Message").fill("Thanks")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".solo-message[data-role='assistant']")).to_have_count(2, timeout=20_000)
    await expect(page.locator(".solo-message[data-role='assistant']").last).to_contain_text("done.")
    first = page.locator(".solo-message[data-role='assistant']").first
    assert await first.locator(".solo-code pre").evaluate("e => e.scrollLeft") == 120
