"""A first start in a real browser (Debian's Chromium, Playwright) on `faxcast serve`: the
console's set-up link makes the first admin, who then signs out and in through the forms.

The test leaves a screenshot of its last page in artifacts/web/<test>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.web_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_server

WAIT_MS = 10_000
PASSWORD = "a long enough secret"


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        opened = browser.new_context(locale="en-US").new_page()
        opened.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            yield opened
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            opened.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
            browser.close()


def test_the_first_admin_sets_up_then_signs_out_and_in(
    page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with running_server(tmp_path_factory.mktemp("first-start") / "data") as server:
        link = re.search(r"open (http://\S+/setup/\S+) to choose", server.log.read_text())
        assert link, server.log_tail()

        # Nobody signed in: the pages lead to the sign-in form, and keep where one was going.
        page.goto(server.url + "/accounts/1/lines/1")
        expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Faccounts%2F1%2Flines%2F1$"))

        page.goto(link.group(1))
        expect(page.get_by_role("heading", level=1)).to_have_text("Set up faxcast")
        page.get_by_label("Login").fill("Alice")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD + "!")
        page.get_by_role("button", name="Save and sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("The two passwords typed differ.")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        page.get_by_role("button", name="Save and sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Telephony")
        expect(page.locator(".me .who")).to_have_text("alice")  # logins are kept case-folded

        # The link is used up.
        page.goto(link.group(1))
        expect(page.locator(".error-text")).to_contain_text("already used or has expired")

        page.goto(server.url + "/")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/sign-in$"))
        page.goto(server.url + "/")
        expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))

        page.get_by_label("Login").fill("alice")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong login or password.")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Telephony")
        session = next(c for c in page.context.cookies() if c["name"] == "faxcast_session")
        assert session["httpOnly"]
        assert session["sameSite"] == "Lax"
