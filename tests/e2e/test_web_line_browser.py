"""A SIP trunk line made and edited in a real browser (Debian's Chromium, Playwright) on
`faxcast serve`: the trunk's fields appear with its kind, and the password is never shown.

The test leaves a screenshot of its last page in artifacts/web/<test>.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.web_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, running_server

SECRET = "br0wser-pa55"
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("web-lines") / "data") as running:
        yield running


@pytest.fixture
def page(server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        server.sign_in(context)
        opened = context.new_page()
        opened.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        opened.goto(server.url + "/")
        try:
            yield opened
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            opened.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
            browser.close()


def test_a_trunk_is_made_and_edited_in_the_browser(page: Page) -> None:
    page.get_by_role("link", name="+ New line").click()
    proxy = page.get_by_label("Proxy (registrar)", exact=True)
    expect(proxy).to_be_hidden()  # a sandbox line, the default, has no trunk

    page.get_by_label("SIP trunk", exact=True).check()
    expect(proxy).to_be_visible()
    page.get_by_label("Line name", exact=True).fill("Carrier")
    proxy.fill("sip.example.net")
    page.get_by_label("User name", exact=True).fill("faxcast")
    page.get_by_label("Password", exact=True).fill(SECRET)
    page.get_by_label("Register with the proxy (REGISTER)").check()
    page.get_by_label("Codecs, in order of preference").select_option("pcmu,pcma")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Carrier")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("sip.example.net:5060 (UDP)")
    expect(facts).to_contain_text("saved (not shown)")
    expect(facts).to_contain_text("PCMU, PCMA")
    assert SECRET not in page.content()

    page.get_by_role("link", name="Edit the settings").click()
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_value("")
    expect(page.get_by_text("A password is saved: leave blank to keep it.")).to_be_visible()
    page.get_by_label("Port", exact=True).fill("not a port")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#proxy_port-error")).to_have_text("Enter a whole number.")
    expect(page.get_by_label("Port", exact=True)).to_have_attribute("aria-invalid", "true")
    assert SECRET not in page.content()
    page.get_by_label("Port", exact=True).fill("5070")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("dl.facts")).to_contain_text("sip.example.net:5070 (UDP)")
    expect(page.locator("dl.facts")).to_contain_text("saved (not shown)")
