"""API tokens in a real browser (Debian's Chromium, Playwright) on `faxcast serve`: a signed-in
user creates a token, copies its secret from the page that shows it once, then revokes it.

The test leaves a screenshot of its last page in artifacts/web/<test>.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from faxcast.clock import SystemClock
from faxcast.config import Settings
from faxcast.services.context import Services
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for, database_url_for
from tests.e2e.web_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, running_server
from tests.identity import Identity, new_user

WAIT_MS = 10_000


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    with running_server(data_dir) as running:
        yield running


@pytest.fixture
def erin(server: Server, data_dir: Path) -> Identity:
    """A user made in the server's own database, signed in (the session is the server's)."""
    engine = create_engine_for(database_url_for(data_dir))
    try:
        svc = Services(
            engine=engine,
            blobs=FileBlobStore(data_dir / "blobs"),
            clock=SystemClock(),
            settings=Settings(data_dir=data_dir),
        )
        return new_user(svc, "erin", {})
    finally:
        engine.dispose()


@pytest.fixture
def page(server: Server, erin: Identity, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Chromium from Debian, signed in as erin, allowed to use the clipboard."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium: Browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        context.add_cookies([{"name": "faxcast_session", "value": erin.session, "url": server.url}])
        opened = context.new_page()
        opened.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            yield opened
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            opened.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
            chromium.close()


def api_answer(server: Server, secret: str) -> int:
    """What the API answers a program that sends the token."""
    return httpx.get(
        server.url + "/telephony", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    ).status_code


def test_a_user_creates_copies_and_revokes_a_token(page: Page, server: Server) -> None:
    expiry = date.today() + timedelta(days=90)
    page.goto(server.url + "/")
    page.get_by_role("navigation", name="Your account").get_by_role(
        "link", name="API tokens"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API tokens")

    page.get_by_label("Name").fill("Billing <script>")
    page.get_by_label("Expiry date (optional)").fill(expiry.isoformat())
    page.get_by_role("button", name="Create the token").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Token created")
    expect(page.get_by_role("status")).to_contain_text("it will not be shown again")
    secret = page.get_by_label("The token Billing <script>:").input_value()
    assert secret.startswith("fxc_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert api_answer(server, secret) == 200

    page.get_by_role("link", name="Back to the tokens").click()
    row = page.locator("tbody tr", has_text="Billing <script>")
    expect(row).to_contain_text(secret[:8] + "…")
    expect(row).to_contain_text(expiry.isoformat() + " 00:00")
    assert secret not in page.content()

    row.get_by_role("link", name="Revoke").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke the token?")
    page.get_by_role("button", name="Revoke").click()

    expect(page.get_by_role("status")).to_have_text("Token revoked.")
    expect(page.locator("tbody tr", has_text="Billing <script>")).to_have_count(0)
    assert api_answer(server, secret) == 401
