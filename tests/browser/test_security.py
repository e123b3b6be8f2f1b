"""The Content-Security-Policy in a real browser: the pages work under it, attacks are refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_docs_page_renders_under_its_policy(open_page):
    """The docs page's inline script runs (its nonce); the fixture fails on any CSP violation."""
    page = open_page(path="/docs")
    expect(page.locator("#ops .op").first).to_contain_text("/predict")


def test_injected_inline_script_is_refused_and_reported(open_page, console):
    """A script injected into the page (as an XSS would) does not run and is seen as a violation."""
    page = open_page()
    with page.expect_console_message(lambda message: "CSP violation: script-src" in message.text):
        ran = page.evaluate(
            """() => new Promise((resolve) => {
              document.addEventListener("securitypolicyviolation", () => resolve(window.pwned === 1),
                                        {once: true});
              const s = document.createElement("script");
              s.textContent = "window.pwned = 1";
              document.body.append(s);
            })"""
        )
    assert ran is False
    console.errors.clear()  # seen and expected: the fixture checks that nothing else was logged


def test_other_origins_cannot_frame_the_page(context, service_url, console):
    """frame-ancestors 'none': a page elsewhere that embeds ours gets an empty, blocked frame."""
    page = context.new_page()
    page.set_content(f'<iframe id="f" src="{service_url}/"></iframe>')
    # set_content returns after the load event, which waits for the frame (loaded or refused).
    frame = page.frame_locator("#f")
    expect(frame.locator("#file-input")).to_have_count(0)
