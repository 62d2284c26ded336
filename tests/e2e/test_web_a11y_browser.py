"""Every page of the customer space, in French and English, checked by axe-core in Chromium;
and the controls' names and the "..." menu, checked as assistive technology meets them.

Each test leaves a screenshot of its last page in artifacts/web/<test>.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests import pdfs
from tests.e2e import test_web_browser as seed
from tests.e2e.test_web_browser import RUN_MS, OpenPage, campaigns_path, choose_pdf, row
from tests.e2e.web_support import Server

# The seed's fixtures: a server for this module, Chromium, pages watched for CSP violations.
server = seed.server
browser = seed.browser
csp_violations = seed.csp_violations
open_page = seed.open_page

# What fails the test (axe finds no "moderate" or "minor" one either today).
BLOCKING = ("serious", "critical")
# Off by default in axe (experimental), on here: WCAG 2.5.3, the label is in the name.
AXE_OPTIONS: dict[str, Any] = {
    "resultTypes": ["violations"],
    "rules": {"label-content-name-mismatch": {"enabled": True}},
}
# The controls whose accessible name must contain their visible text.
CONTROLS = "a[href], button, summary, [role=button], [role=menuitem], [role=tab]"
LOCALES = ("en-US", "fr-FR")
# The text a sighted user reads on a control: without what is there for screen readers only.
_SHOWN_TEXT = """element => {
  const copy = element.cloneNode(true);
  copy.querySelectorAll(".visually-hidden, [hidden]").forEach(hidden => hidden.remove());
  return copy.textContent;
}"""


class Audit:
    """Runs axe and the label-in-name check on each page visited; gathers what they find."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.axe = Axe()
        self.found: list[str] = []
        self.visited: list[str] = []

    def check(self, what: str) -> None:
        """Check the page as it is now; `what` names it in the failure message."""
        expect(self.page.get_by_role("heading", level=1)).to_be_visible()
        self.visited.append(what)
        response: dict[str, Any] = self.axe.run(self.page, options=AXE_OPTIONS).response
        for violation in response["violations"]:
            if violation["impact"] in BLOCKING:
                targets = ", ".join(str(node["target"]) for node in violation["nodes"][:5])
                self.found.append(
                    f"{what}: {violation['id']} ({violation['impact']}): "
                    f"{violation['help']} at {targets}"
                )
        self.found.extend(f"{what}: {problem}" for problem in label_not_in_name(self.page))


def label_not_in_name(page: Page) -> list[str]:
    """The visible controls whose accessible name (as Playwright computes it) lacks their
    shown text; symbols without letters or digits (the "..." button) are no label."""
    problems = []
    for control in page.locator(CONTROLS).all():
        if not control.is_visible():
            continue
        text = " ".join(control.evaluate(_SHOWN_TEXT).split())
        if not re.search(r"\w", text):
            continue
        words = r"\s+".join(re.escape(word) for word in text.split())
        try:
            expect(control).to_have_accessible_name(re.compile(words, re.IGNORECASE), timeout=1)
        except AssertionError:
            html = control.evaluate("element => element.outerHTML")[:200]
            problems.append(f"label-in-name: visible text {text!r} not in the name of {html}")
    return problems


def make_a_finished_campaign(page: Page, server: Server, name: str, audit: Audit) -> str:
    """A manual campaign (one number flagged, kept) launched from its menu and run to its end
    on the sandbox line; the pages on the way are checked. Returns the details' path."""
    page.goto(server.url + campaigns_path() + "/new")
    audit.check("new campaign")
    page.locator("#submit").click()
    audit.check("new campaign, refused")
    page.locator("#name").fill(name)
    choose_pdf(page, pdfs.text_pdf(pages=1))
    expect(page.locator("#preview img")).to_have_count(1)
    # The toggle says what pressing it does: the page at full size.
    zoom = page.locator(".page-zoom")
    expect(zoom).to_have_accessible_name(re.compile(r"^Page 1 \(.+\)$"))
    zoom.click()
    expect(zoom).to_have_attribute("aria-pressed", "true")
    audit.check("new campaign, with its preview")
    page.locator("#send_type-manual").check()
    page.locator("#recipients_list").fill("01 23 45 67 89\n123456")
    page.locator("#submit").click()
    expect(page.locator("#number-warnings")).to_be_visible()
    audit.check("campaign created, numbers flagged")

    page.goto(server.url + campaigns_path())
    campaign = row(page, name)
    audit.check("campaigns")
    campaign.locator("summary").click()
    expect(campaign.locator(".menu-items")).to_be_visible()
    audit.check("campaigns, menu open")
    campaign.locator(".menu-items button").first.click()  # the one action: launch
    campaign = row(page, name)
    expect(campaign).to_have_attribute("data-state", "finished", timeout=RUN_MS)
    number = (campaign.get_attribute("id") or "").removeprefix("campaign-")
    return f"{campaigns_path()}/{number}"


@pytest.mark.parametrize("locale", LOCALES)
def test_no_page_has_a_serious_accessibility_violation(
    open_page: OpenPage, server: Server, locale: str
) -> None:
    page = open_page("/", locale=locale)
    audit = Audit(page)
    audit.check("home")
    for what, path in (
        ("account", "/accounts/1"),
        ("account settings", "/accounts/1/edit"),
        ("line", "/accounts/1/lines/1"),
        ("line settings", "/accounts/1/lines/1/edit"),
        ("new line", "/accounts/1/lines/new"),
        ("fax tab", "/accounts/1/lines/1/fax"),
        ("members", "/accounts/1/users"),
        ("audit log", "/accounts/1/audit"),
        ("password", "/me/password"),
        ("tokens", "/me/tokens"),
        ("page not found", "/accounts/1/lines/999"),
    ):
        page.goto(server.url + path)
        audit.check(what)

    details = make_a_finished_campaign(page, server, f"Axe {locale}", audit)
    page.goto(server.url + details)
    audit.check("campaign details")
    attempts = page.locator('tr[data-number="+33123456789"] details.attempts summary')
    # The disclosure says what it opens: the attempts to that number.
    expect(attempts).to_have_accessible_name(re.compile(r"^1 \w+ .*\+33123456789$"))
    attempts.click()
    audit.check("campaign details, attempts open")
    page.locator('tr[data-number="+33123456789"] a[href*="/received"]').click()
    expect(page.locator(".received-pages img")).to_have_count(1)
    audit.check("received pages")
    page.goto(server.url + details + "/delete")
    audit.check("delete the campaign?")

    page.goto(server.url + "/me/tokens")
    page.locator("#name").fill(f"axe {locale}")
    page.locator("#create-token").click()
    expect(page.locator("#secret")).to_be_visible()
    audit.check("token shown once")
    page.goto(server.url + "/me/tokens")
    page.locator("tbody tr a.danger").first.click()
    audit.check("revoke the token?")

    page.goto(server.url + "/accounts/1/users")
    page.locator("#login").fill(f"axe-{locale.lower()}")
    page.locator("#add-user").click()
    setup_link = page.locator("#secret").input_value()
    audit.check("set-up link shown once")
    page.goto(server.url + "/accounts/1/users")
    page.locator("tbody tr a.danger").last.click()
    audit.check("remove the member?")

    page.goto(server.url + campaigns_path() + "?state=stopping")
    expect(page.locator(".empty")).to_be_visible()
    audit.check("campaigns, none in the chosen state")

    page.context.clear_cookies()
    page.goto(server.url + "/sign-in")
    audit.check("sign-in")
    page.locator("#login").fill("nobody")
    page.locator("#password").fill("not the password")
    page.locator("#sign-in").click()
    expect(page.locator("#login")).to_have_value("nobody")
    audit.check("sign-in, refused")
    page.goto(setup_link)
    audit.check("set-up")

    assert audit.found == [], "\n".join(audit.found)
    assert len(audit.visited) == 30


def test_the_campaign_menu_is_a_menu_button_driven_by_the_keyboard(
    open_page: OpenPage, server: Server
) -> None:
    page = open_page(campaigns_path() + "/new")
    page.get_by_label("Campaign name", exact=True).fill("Keyboard only")
    choose_pdf(page, pdfs.text_pdf(pages=1))
    page.get_by_label("Manual", exact=True).check()
    page.get_by_label("Fax numbers", exact=True).fill("01 23 45 67 89")
    page.get_by_role("button", name="Submit").click()
    # A summary (a disclosure without script), which Playwright gives no role.
    button = row(page, "Keyboard only").locator("summary")
    expect(button).to_have_accessible_name("Actions for campaign Keyboard only")
    expect(button).to_have_attribute("aria-haspopup", "menu")
    expect(button).to_have_attribute("aria-expanded", "false")
    menu = page.get_by_role("menu", name="Actions for campaign Keyboard only")
    expect(menu).to_be_hidden()

    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    items = menu.get_by_role("menuitem")
    expect(items).to_have_text(["Details", "Launch the campaign", "Delete"])
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # from the last item round to the first
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(items.nth(2)).to_be_focused()
    page.keyboard.press("Home")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("End")
    expect(items.nth(2)).to_be_focused()

    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("ArrowUp")  # opens on the last item
    expect(items.nth(2)).to_be_focused()
    page.keyboard.press("Tab")  # leaves the menu, closed, for what follows the button
    expect(menu).to_be_hidden()
    expect(button).not_to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    button.focus()
    page.keyboard.press("ArrowDown")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("launched")


def test_the_audit_reports_what_axe_and_the_name_check_find(open_page: OpenPage) -> None:
    page = open_page("/")
    page.evaluate(
        """() => {
          const image = document.createElement("img");  // no text alternative: critical
          image.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
          const button = document.createElement("button");
          button.textContent = "Voir les pages reçues";
          button.setAttribute("aria-label", "Pages reçues");
          document.querySelector("main").append(image, button);
        }"""
    )
    audit = Audit(page)
    audit.check("home, spoilt")
    assert sorted(problem.split(":")[1].strip() for problem in audit.found) == [
        "image-alt (critical)",
        "label-content-name-mismatch (serious)",
        "label-in-name",
    ], audit.found
