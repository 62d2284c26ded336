"""The seed's path in a real browser: Debian's Chromium, driven by Playwright, on `faxcast serve`.

Each test leaves a screenshot of its last page in artifacts/web/<test>.png.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    FilePayload,
    Locator,
    Page,
    expect,
    sync_playwright,
)

from tests import pdfs
from tests.e2e.web_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, running_server

TIMEZONE = "Europe/Paris"  # the default account's zone
WAIT_MS = 10_000
RUN_MS = 90_000  # a whole campaign on the sandbox line (about 1 s alone), on a busy machine

OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module, with the default account and its sandbox line."""
    with running_server(tmp_path_factory.mktemp("web") / "data") as running:
        yield running
    # Kept beside the screenshots: what the server did, should a test have failed.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(running.log, ARTIFACTS / "server.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


# Runs in every document before its own scripts; the browser fires the event for each thing the
# Content-Security-Policy blocks, and the binding brings it back to the test.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` in ${event.documentURI}`);
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the Content-Security-Policy blocked on the test's pages, as the browser reports it
    (the event, and Chromium's console message)."""
    return []


@pytest.fixture
def open_page(
    browser: Browser, server: Server, request: pytest.FixtureRequest, csp_violations: list[str]
) -> Iterator[OpenPage]:
    """open_page(path, locale=..., width=..., height=...): a page in a new browser context.

    The last page opened is photographed when the test ends, pass or fail; and no test's page
    may set off the Content-Security-Policy.
    """
    opened: list[Page] = []

    def report(text: str) -> None:
        csp_violations.append(text)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    def open_(
        path: str = "/", *, locale: str = "en-US", width: int = 1280, height: int = 900
    ) -> Page:
        context = browser.new_context(
            locale=locale, viewport={"width": width, "height": height}, accept_downloads=True
        )
        server.sign_in(context)
        context.expose_function("reportCspViolation", report)
        context.add_init_script(_REPORT_VIOLATIONS)
        page = context.new_page()
        page.on("console", on_console)
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.goto(server.url + path)
        opened.append(page)
        return page

    yield open_
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(opened):
        if number == len(opened) - 1:
            page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
        page.context.close()
    assert csp_violations == []


def campaigns_path(line: int = 1) -> str:
    return f"/accounts/1/lines/{line}/fax/campaigns"


def row(page: Page, name: str) -> Locator:
    """The table row of the campaign named `name`."""
    return page.locator("table.campaigns tbody tr", has=page.get_by_role("link", name=name))


def open_menu(page: Page, name: str) -> Locator:
    """Open the "..." menu of a campaign with the keyboard; returns the menu."""
    summary = row(page, name).locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    menu = row(page, name).locator(".menu-items")
    expect(menu).to_be_visible()
    return menu


def choose_pdf(page: Page, data: bytes, name: str = "letter.pdf") -> None:
    page.locator("#pdf").set_input_files(
        files=[FilePayload(name=name, mimeType="application/pdf", buffer=data)]
    )


def go_to_the_campaigns_as_the_seed_says(page: Page) -> None:
    """Telephony, the line in its account, the Fax tab, then "Fax campaigns"."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Telephony")
    page.get_by_role("link", name="Sandbox").click()
    page.get_by_role("navigation", name="Line sections").get_by_role("link", name="Fax").click()
    page.get_by_role("link", name="Fax campaigns").click()
    expect(page.get_by_role("heading", name="Fax campaigns")).to_be_visible()


def wait_until_finished(page: Page, server: Server, campaign: Locator) -> None:
    """Wait for the table to show the campaign finished; else fail with what the API says."""
    try:
        expect(campaign.locator(".cell-state")).to_have_text("Finished", timeout=RUN_MS)
    except AssertionError as error:
        number = campaign.get_attribute("id", timeout=1000) or ""
        detail = httpx.get(
            f"{server.url}/telephony/1/fax/1/campaigns/{number.removeprefix('campaign-')}/detail",
            headers=server.bearer,
            timeout=10,
        )
        raise AssertionError(
            f"{error}\nthe API says: {detail.text}\nserver log:\n{server.log_tail()}"
        ) from None


def download_the_results(page: Page) -> list[dict[str, str]]:
    """The details' CSV, downloaded as a user does, row by row."""
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the results (CSV)").click()
    return list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))


def check_the_received_pages(page: Page, number: str, pages: int) -> None:
    """The sandbox machine's pages, each a whole fax page (1728 dots across)."""
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pages received by {number}")
    images = page.locator(".received-pages img")
    expect(images).to_have_count(pages)
    for image in images.all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") == 1728


def test_a_manual_campaign_is_created_launched_followed_and_detailed(
    open_page: OpenPage, server: Server
) -> None:
    page = open_page("/")
    go_to_the_campaigns_as_the_seed_says(page)
    page.get_by_role("link", name="+ New campaign").first.click()

    page.get_by_label("Campaign name", exact=True).fill("Spring mailing")
    choose_pdf(page, pdfs.text_pdf(pages=2))
    # The preview shows the pages at the chosen quality before anything is sent.
    first_page = page.locator("#preview img").first
    expect(page.locator("#preview img")).to_have_count(2)
    expect(page.locator("#preview")).to_contain_text("2 pages")
    normal = first_page.get_attribute("src")
    page.get_by_label("Best", exact=True).check()  # fine resolution: rendered again
    expect(first_page).not_to_have_attribute("src", normal or "")
    expect(page.get_by_text("“Best” is advised for special or foreign numbers.")).to_be_visible()
    page.get_by_label("Manual", exact=True).check()
    expect(page.get_by_label("Sending date", exact=True)).to_be_hidden()
    page.get_by_label("Fax numbers", exact=True).fill("01 23 45 67 89, 01 23 45 04 04")
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("status")).to_contain_text("created")
    campaign = row(page, "Spring mailing")
    expect(campaign.locator(".cell-state")).to_have_text("Waiting for launch")
    expect(campaign.locator(".cell-outcome")).to_have_text("N/A")
    expect(campaign).to_contain_text("Manual launch")
    expect(campaign).to_contain_text("0 delivered, 0 failed, 2 to do, of 2")

    menu = open_menu(page, "Spring mailing")
    expect(menu.get_by_role("menuitem", name="Stop the campaign")).to_have_count(0)
    menu.get_by_role("menuitem", name="Launch the campaign").click()
    expect(page.get_by_role("status")).to_contain_text("launched")
    # No reload from here: the table refreshes by itself until the campaign is finished.
    campaign = row(page, "Spring mailing")
    wait_until_finished(page, server, campaign)
    expect(campaign.locator(".cell-outcome")).to_have_text("Partial success")
    expect(campaign).to_contain_text("1 delivered, 1 failed, 0 to do, of 2")

    open_menu(page, "Spring mailing").get_by_role("menuitem", name="Details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign Spring mailing")
    expect(page.locator("#detail-state")).to_have_text("Finished")
    expect(page.locator("#detail-outcome")).to_have_text("Partial success")
    expect(page.locator("#count-delivered")).to_have_text("1")
    expect(page.locator("#count-failed")).to_have_text("1")
    expect(page.locator("#detail-started")).not_to_have_text("—")
    delivered = check_the_recipients(page)

    delivered.get_by_role("link", name="See the pages received (+33123456789)").click()
    check_the_received_pages(page, "+33123456789", 2)

    page.get_by_role("link", name="Back to the campaign").click()
    rows = download_the_results(page)
    assert [(r["number"], r["result"], r["attempts"]) for r in rows] == [
        ("+33123456789", "delivered", "1"),
        ("+33123450404", "failed", "1"),
    ]
    expect(page.locator("#count-total")).to_have_text("2")


def test_a_scheduled_campaign_from_a_txt_file_is_stopped_then_deleted(
    open_page: OpenPage,
) -> None:
    page = open_page(campaigns_path() + "/new")
    page.get_by_label("Campaign name", exact=True).fill("Autumn reminder")
    choose_pdf(page, pdfs.text_pdf(pages=1))
    page.get_by_label("Scheduled", exact=True).check()
    tomorrow = datetime.now(ZoneInfo(TIMEZONE)).date() + timedelta(days=1)
    page.get_by_label("Sending date", exact=True).fill(tomorrow.isoformat())
    page.get_by_label("Sending time", exact=True).fill("09:30")
    page.get_by_label("Recipients file", exact=True).check()
    expect(page.get_by_label("Fax numbers", exact=True)).to_be_hidden()
    page.get_by_label("Recipients file (txt format)").set_input_files(
        files=[
            FilePayload(
                name="numbers.txt",
                mimeType="text/plain",
                buffer=b"01 23 45 67 89\r\n+33 1 23 45 67 90; 01 23 45 67 91\r\n",
            )
        ]
    )
    page.get_by_role("button", name="Submit").click()

    campaign = row(page, "Autumn reminder")
    expect(campaign.locator(".cell-state")).to_have_text("Scheduled")
    expect(campaign).to_contain_text(f"{tomorrow.isoformat()} 09:30")
    expect(campaign).to_contain_text("of 3")

    menu = open_menu(page, "Autumn reminder")
    expect(menu.get_by_role("menuitem", name="Launch the campaign")).to_have_count(0)
    menu.get_by_role("menuitem", name="Stop the campaign").click()
    expect(page.get_by_role("status")).to_contain_text("stopped")
    campaign = row(page, "Autumn reminder")
    expect(campaign.locator(".cell-state")).to_have_text("Waiting for launch")

    menu = open_menu(page, "Autumn reminder")
    expect(menu.get_by_role("menuitem", name="Stop the campaign")).to_have_count(0)
    expect(menu.get_by_role("menuitem", name="Launch the campaign")).to_have_count(1)
    menu.get_by_role("menuitem", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete the campaign?")
    expect(page.get_by_text("Autumn reminder")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    expect(row(page, "Autumn reminder")).to_have_count(0)


def test_bad_input_shows_each_error_beside_its_field_and_creates_nothing(
    open_page: OpenPage, server: Server
) -> None:
    page = open_page(campaigns_path() + "/new")
    page.get_by_label("Campaign name", exact=True).fill("Never created")
    choose_pdf(page, b"meeting notes, not a PDF at all\n", name="notes.pdf")
    expect(page.locator("#preview")).to_contain_text("The file is text, not a PDF.")
    page.get_by_label("Scheduled", exact=True).check()
    yesterday = datetime.now(ZoneInfo(TIMEZONE)).date() - timedelta(days=1)
    page.get_by_label("Sending date", exact=True).fill(yesterday.isoformat())
    page.get_by_label("Sending time", exact=True).fill("08:00")
    page.get_by_label("Fax numbers", exact=True).fill("01 23 45 67 89\n12ab34, 123")
    page.get_by_role("button", name="Submit").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The campaign was not created")
    expect(page.locator("#pdf-error")).to_have_text("The file is text, not a PDF.")
    expect(page.locator("#send_at-error")).to_have_text(
        f"The sending date {yesterday.isoformat()} 08:00 is in the past."
    )
    numbers = page.locator("#recipients_list-error")
    expect(numbers).to_contain_text("2 invalid numbers")
    expect(numbers.locator("li")).to_have_text(
        [
            re.compile(r"^Line 2, column 1: “12ab34” contains 'a', which is not a digit"),
            re.compile(r"^Line 2, column 9: “123” has 3 digits, at least 6 are needed"),
        ]
    )
    expect(page.get_by_label("Fax numbers", exact=True)).to_have_attribute("aria-invalid", "true")
    # What was typed is kept; only the files must be chosen again.
    expect(page.get_by_label("Campaign name", exact=True)).to_have_value("Never created")
    expect(page.get_by_label("Fax numbers", exact=True)).to_have_value(
        "01 23 45 67 89\n12ab34, 123"
    )
    expect(page.get_by_label("Sending date", exact=True)).to_be_visible()

    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Fax campaigns")).to_be_visible()
    expect(row(page, "Never created")).to_have_count(0)
    page.goto(server.url + campaigns_path() + "/new")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#name-error")).to_have_text("The campaign name is empty.")
    expect(page.locator("#pdf-error")).to_have_text("Choose the PDF document to fax.")
    expect(page.locator("#recipients_list-error")).to_have_text("Enter at least one fax number.")


def test_the_flagged_numbers_are_removed_with_one_button(open_page: OpenPage) -> None:
    page = open_page(campaigns_path() + "/new")
    page.get_by_label("Campaign name", exact=True).fill("Flagged ones")
    choose_pdf(page, pdfs.text_pdf())
    page.get_by_label("Manual", exact=True).check()
    page.get_by_label("Fax numbers", exact=True).fill("01 23 45 67 89\n123456\n01 23 45")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#number-warnings tbody tr")).to_have_count(2)

    page.get_by_role("button", name="Remove the 2 flagged numbers").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign Flagged ones")
    expect(page.get_by_role("status")).to_contain_text("2 flagged numbers removed.")
    expect(page.locator("#count-total")).to_have_text("1")
    expect(page.get_by_role("button", name=re.compile("flagged"))).to_have_count(0)


def test_the_language_follows_the_browser_and_the_switch(open_page: OpenPage) -> None:
    page = open_page(campaigns_path(), locale="fr-FR")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Campagnes de fax")).to_be_visible()
    expect(page.get_by_role("link", name="+ Nouvelle campagne").first).to_be_visible()
    expect(page.get_by_role("columnheader", name="État")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Statut")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Planification")).to_be_visible()

    page.get_by_role("link", name="+ Nouvelle campagne").first.click()
    for label in (
        "Nom de la campagne",
        "Document à faxer (format pdf)",
        "Normale",
        "Haute",
        "Meilleure",
        "Programmé",
        "Manuel",
        "Entrer les destinataires manuellement",
    ):
        expect(page.get_by_label(label, exact=True)).to_be_attached()
    page.get_by_label("Programmé").check()
    expect(page.get_by_label("Date d'envoi")).to_be_visible()
    expect(page.get_by_label("Heure d'envoi")).to_be_visible()
    page.get_by_label("Fichier de destinataires", exact=True).check()
    expect(page.get_by_label("Fichier de destinataires (format txt)")).to_be_visible()
    expect(page.get_by_role("button", name="Valider")).to_be_visible()

    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    page.reload()
    expect(page.get_by_role("button", name="Submit")).to_be_visible()
    page.get_by_role("link", name="Fax campaigns").click()
    expect(page.get_by_role("columnheader", name="Outcome")).to_be_visible()


def test_an_empty_line_says_what_to_do_and_fits_a_phone(
    open_page: OpenPage, server: Server
) -> None:
    created = httpx.post(
        server.url + "/telephony/1/fax",
        json={"name": "Second line"},
        headers=server.bearer,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    line = created.json()["id"]

    page = open_page(campaigns_path(line), width=390, height=844)
    expect(page.locator(".empty")).to_contain_text("No campaign yet.")
    expect(page.locator(".empty").get_by_role("link", name="+ New campaign")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.locator(".empty").get_by_role("link", name="+ New campaign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # From the keyboard: the skip link first, then straight to the form's first field.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Campaign name", exact=True)).to_be_focused()
    page.keyboard.type("On the go")
    choose_pdf(page, pdfs.text_pdf(pages=1))
    page.get_by_label("Fax numbers", exact=True).focus()
    page.keyboard.type("+44 20 7946 0000")
    page.get_by_role("button", name="Submit").focus()
    page.keyboard.press("Enter")

    campaign = row(page, "On the go")
    expect(campaign.locator(".cell-state")).to_have_text("Waiting for launch")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(
        open_menu(page, "On the go").get_by_role("menuitem", name="Launch the campaign")
    ).to_be_visible()


def check_the_recipients(page: Page) -> Locator:
    """Each recipient's result, reason and attempts; returns the delivered one's row."""
    delivered = page.locator('tr[data-number="+33123456789"]')
    failed = page.locator('tr[data-number="+33123450404"]')
    expect(delivered).to_contain_text("Delivered")
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("does not exist")
    expect(failed.get_by_role("link")).to_have_count(0)
    delivered.locator("details.attempts summary").click()
    expect(delivered.locator("details.attempts li")).to_contain_text("delivered, pages 2/2")
    return delivered


def test_no_page_sets_off_the_content_security_policy_which_does_block(
    open_page: OpenPage, server: Server, csp_violations: list[str]
) -> None:
    page = open_page("/")
    for path in (
        "/accounts/1/lines/1",
        "/accounts/1/lines/1/edit",
        "/accounts/1/lines/new",
        "/accounts/1/lines/1/fax",
        campaigns_path(),
        "/me/password",
        "/sign-in",
        campaigns_path() + "/new",
    ):
        response = page.goto(server.url + path)
        assert response is not None
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        expect(page.get_by_role("heading", level=1)).to_be_visible()
    choose_pdf(page, pdfs.text_pdf(pages=2))  # the previews are data: images
    expect(page.locator(".preview-pages img")).to_have_count(2)
    expect(page.locator(".preview-pages img").first).to_have_js_property("complete", True)
    page.locator(".page-zoom").first.click()  # app.js runs: its zoom toggles
    expect(page.locator(".page-zoom").first).to_have_attribute("aria-pressed", "true")
    assert csp_violations == []

    # The same listeners hear what the policy blocks: an inline script and a foreign image.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "document.title = 'ran'";
          document.body.append(script);
          const image = document.createElement("img");
          image.src = "http://192.0.2.1/pixel.png";
          document.body.append(image);
        }"""
    )
    # Chromium's console messages and the page's events come back on separate channels, in no set
    # order: wait for all four, so that none arrives after the list is cleared.
    expected = (
        "Executing inline script violates",
        "Loading the image 'http://192.0.2.1/pixel.png' violates",
        "script-src-elem blocked inline in ",
        "img-src blocked http://192.0.2.1/pixel.png in ",
    )
    for _ in range(50):  # 5 s at most
        if all(any(text.startswith(start) for text in csp_violations) for start in expected):
            break
        page.wait_for_timeout(100)
    expect(page).not_to_have_title("ran")
    assert [sum(text.startswith(start) for text in csp_violations) for start in expected] == [1] * 4
    assert len(csp_violations) == 4
    csp_violations.clear()


def test_a_campaign_waiting_for_retries_says_so_and_colours_its_outcomes(
    open_page: OpenPage, server: Server
) -> None:
    page = open_page(campaigns_path() + "/new")
    page.get_by_label("Campaign name", exact=True).fill("Busy retries")
    choose_pdf(page, pdfs.text_pdf(pages=1))
    page.get_by_label("Manual", exact=True).check()
    # The sandbox's busy number, retried every second here (12 dials), and a healthy one.
    page.get_by_label("Fax numbers", exact=True).fill("01 23 45 67 89, 01 23 45 04 86")
    page.get_by_role("button", name="Submit").click()
    # Notices name the campaign, its reference beside.
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"^Campaign “Busy retries” created \(reference C[0-9A-Z]{7}\)\.$")
    )
    open_menu(page, "Busy retries").get_by_role("menuitem", name="Launch the campaign").click()
    expect(page.get_by_role("status")).to_contain_text("Campaign “Busy retries” launched")

    campaign = row(page, "Busy retries")
    waiting = campaign.locator(".retries-waiting")
    expect(waiting).to_contain_text(
        re.compile(r"^1 number to retry, next call at .+, last try by ")
    )
    delivered, failed = campaign.locator("rect.bar-delivered"), campaign.locator("rect.bar-failed")
    expect(delivered).to_have_attribute("width", "1")
    expect(failed).to_have_attribute("width", "0")
    fills = [r.evaluate("r => getComputedStyle(r).fill") for r in (delivered, failed)]
    assert fills[0] != fills[1], fills

    campaign.get_by_role("link", name="Busy retries").click()
    busy = page.locator('tr[data-number="+33123450486"]')
    expect(busy.locator(".next-call")).to_contain_text(
        re.compile(r"^next call at .+, \d+ tries? left$")
    )
    expect(page.locator(".retries-waiting")).to_contain_text("1 number to retry")

    # The page follows the campaign to its end: the failed share gets its own colour.
    expect(page.locator("#detail-state")).to_have_text("Finished", timeout=RUN_MS)
    expect(page.locator("rect.bar-failed")).to_have_attribute("width", "1")
    expect(page.locator(".retries-waiting")).to_have_count(0)
    expect(busy.locator(".next-call")).to_have_count(0)
