"""A line's pages without a browser (httpx on the ASGI app): create and edit a line, sandbox or
SIP trunk, in English and French; errors beside their fields; the password never in a page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from faxcast.bootstrap import create_app
from faxcast.clock import SystemClock
from faxcast.config import Settings
from faxcast.domain.codec import Codec
from faxcast.domain.models import Account, Line, LineKind
from faxcast.domain.sip_line import T38Mode
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for
from tests.asgi import SyncAsgiTransport
from tests.identity import as_tester

SECRET = "w3b-pa55word-hidden"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_FIELD_ERROR = re.compile(r'<div class="field-error" id="([a-z0-9_]+)-error">\s*<p>([^<]*)</p>')
TRUNK_FORM = {
    "name": "Trunk",
    "kind": "sip",
    "country": "FR",
    "ident": "+33 1 23 45 67 89",
    "header": "ACME",
    "channel_limit": "8",
    "proxy_host": "sip.example.net",
    "proxy_port": "5060",
    "transport": "udp",
    "username": "faxcast",
    "password": SECRET,
    "register": "on",
    "register_interval_s": "1800",
    "from_number": "+33123456789",
    "display_name": "ACME Fax",
    "dialling": "national",
    "international_prefix": "00",
    "codecs": "pcmu,pcma",
    "t38": "offer",
    "t38_offer_after_s": "3",
    "ring_timeout_s": "45",
    "local_address": "0.0.0.0",
    "rtp_port_min": "30000",
    "rtp_port_max": "30099",
}


@pytest.fixture
def svc(sqlite_database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(sqlite_database_url)
    yield Services(
        engine=engine,
        blobs=FileBlobStore(tmp_path / "blobs"),
        clock=SystemClock(),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )
    engine.dispose()


@pytest.fixture
def account(svc: Services) -> Account:
    return accounts.create_account(svc, name="Acme")


@pytest.fixture
def client(svc: Services) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=SyncAsgiTransport(create_app(svc)), base_url="http://faxcast.test"
    ) as client:
        as_tester(svc, client)
        yield client


def token_of(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = _TOKEN.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def field_errors(page: httpx.Response) -> dict[str, str]:
    """The error shown beside each field of a form page, by field."""
    return dict(_FIELD_ERROR.findall(page.text))


def untranslated(page: str) -> list[str]:
    """Catalog keys shown as they are (a text missing from the catalogs)."""
    return re.findall(r"\b(?:lineform|line|err)\.[a-z_.0-9]+\b", re.sub(r"<[^>]*>", " ", page))


def create_trunk(client: httpx.Client, account: Account, **changes: str) -> httpx.Response:
    path = f"/accounts/{account.id}/lines/new"
    return client.post(path, data={"csrf_token": token_of(client, path)} | TRUNK_FORM | changes)


def trunk_of(svc: Services, account: Account) -> Line:
    [trunk] = [line for line in accounts.list_lines(svc, account.id) if line.kind is LineKind.SIP]
    return trunk


def test_a_trunk_is_created_from_the_form_and_shown_without_its_password(
    svc: Services, account: Account, client: httpx.Client
) -> None:
    home = client.get("/")
    assert f'href="/accounts/{account.id}/lines/new"' in home.text

    created = create_trunk(client, account)

    assert created.status_code == 303, created.text
    trunk = trunk_of(svc, account)
    assert created.headers["location"] == f"/accounts/{account.id}/lines/{trunk.id}"
    assert trunk.sip is not None
    assert trunk.sip.password.reveal() == SECRET
    assert (trunk.sip.codecs, trunk.sip.t38, trunk.sip.register) == (
        (Codec.PCMU, Codec.PCMA),
        T38Mode.OFFER,
        True,
    )
    shown = client.get(created.headers["location"])
    assert "sip.example.net:5060 (UDP)" in shown.text
    assert "saved (not shown)" in shown.text
    assert "Nationally in the line&#39;s country" in shown.text
    assert "PCMU, PCMA" in shown.text
    french = client.get(created.headers["location"], headers=FRENCH)
    assert "enregistré (non affiché)" in french.text
    assert "Trunk SIP" in french.text
    for page in (shown, french, client.get("/"), client.get(f"{created.headers['location']}/edit")):
        assert SECRET not in page.text
        assert untranslated(page.text) == []


def test_the_new_line_form_speaks_both_languages(account: Account, client: httpx.Client) -> None:
    path = f"/accounts/{account.id}/lines/new"

    english, french = client.get(path), client.get(path, headers=FRENCH)

    for label in ("New line", "Proxy (registrar)", "User name", "Ring timeout (seconds)"):
        assert label in english.text, label
    for label in (
        "Nouvelle ligne",
        "Nom de la ligne",
        "Nom d&#39;utilisateur",
        "Mot de passe",
        "Durée de sonnerie (secondes)",
        "Accepter le passage en T.38 demandé par le correspondant",
    ):
        assert label in french.text, label
    assert 'value="5060"' in english.text  # a trunk's defaults are filled in
    assert 'value="10000"' in english.text
    assert untranslated(english.text) == untranslated(french.text) == []


def test_an_edit_keeps_the_password_unless_a_new_one_is_typed(
    svc: Services, account: Account, client: httpx.Client
) -> None:
    assert create_trunk(client, account).status_code == 303
    trunk = trunk_of(svc, account)
    path = f"/accounts/{account.id}/lines/{trunk.id}/edit"
    form = client.get(path)
    assert 'id="password" name="password" type="password" value=""' in form.text
    assert "A password is saved: leave blank to keep it." in form.text
    assert 'value="sip.example.net"' in form.text

    kept = client.post(
        path,
        data={"csrf_token": token_of(client, path)} | TRUNK_FORM | {"password": "", "name": "B"},
    )
    assert kept.status_code == 303, kept.text
    edited = trunk_of(svc, account)
    assert edited.name == "B"
    assert edited.sip is not None
    assert edited.sip.password.reveal() == SECRET

    changed = client.post(
        path, data={"csrf_token": token_of(client, path)} | TRUNK_FORM | {"password": "n3w"}
    )
    assert changed.status_code == 303, changed.text
    new = trunk_of(svc, account).sip
    assert new is not None
    assert new.password.reveal() == "n3w"


def test_an_invalid_form_names_each_field_stores_nothing_and_never_shows_the_password(
    svc: Services, account: Account, client: httpx.Client
) -> None:
    bad = {
        "proxy_host": "not a host",
        "proxy_port": "x",
        "rtp_port_min": "30001",
        "ring_timeout_s": "1",
        "name": SCRIPT,
    }

    refused = create_trunk(client, account, **bad)

    assert refused.status_code == 422
    assert field_errors(refused) == {
        "proxy_host": "&#39;not a host&#39; is not a host name or an IP address.",
        "proxy_port": "Enter a whole number.",
        "ring_timeout_s": "The ring timeout must be between 5 and 300 seconds.",
        "rtp_port_min": "The first media port must be even, not 30001.",
    }
    assert ESCAPED in refused.text
    assert SCRIPT not in refused.text
    assert SECRET not in refused.text
    assert 'id="password" name="password" type="password" value=""' in refused.text
    assert accounts.list_lines(svc, account.id)[1:] == []

    assert create_trunk(client, account).status_code == 303
    trunk = trunk_of(svc, account)
    path = f"/accounts/{account.id}/lines/{trunk.id}/edit"
    in_french = client.post(
        path,
        headers=FRENCH,
        data={"csrf_token": token_of(client, path)} | TRUNK_FORM | {"username": "a b"},
    )
    assert in_french.status_code == 422
    assert field_errors(in_french)["username"].startswith(
        "Le nom d&#39;utilisateur peut avoir au plus 128 caractères"
    )
    assert SECRET not in in_french.text
    assert trunk_of(svc, account) == trunk


def test_a_sandbox_line_is_edited_without_trunk_fields(
    svc: Services, account: Account, client: httpx.Client
) -> None:
    sandbox = accounts.list_lines(svc, account.id)[0]
    path = f"/accounts/{account.id}/lines/{sandbox.id}/edit"
    form = client.get(path)
    assert 'name="proxy_host"' not in form.text

    fields = {"name": "Bac", "country": "be", "ident": "", "header": "", "channel_limit": "2"}
    saved = client.post(path, data={"csrf_token": token_of(client, path)} | fields)

    assert saved.status_code == 303, saved.text
    changed = accounts.get_line(svc, account.id, sandbox.id)
    assert (changed.name, changed.country, changed.channel_limit, changed.sip) == (
        "Bac",
        "BE",
        2,
        None,
    )
    refused = client.post(
        path, data={"csrf_token": token_of(client, path)} | fields | {"channel_limit": "0"}
    )
    assert refused.status_code == 422
    assert field_errors(refused) == {
        "channel_limit": "The channel limit must be between 1 and 256."
    }


def test_forms_need_their_token_and_another_accounts_line_is_not_found(
    svc: Services, account: Account, client: httpx.Client
) -> None:
    other = accounts.create_account(svc, name="Other")
    sandbox = accounts.list_lines(svc, account.id)[0]

    forged = client.post(f"/accounts/{account.id}/lines/new", data=TRUNK_FORM)
    assert forged.status_code == 403
    assert accounts.list_lines(svc, account.id) == [sandbox]

    token = token_of(client, f"/accounts/{account.id}/lines/new")
    for response in (
        client.get(f"/accounts/{other.id}/lines/{sandbox.id}/edit"),
        client.post(
            f"/accounts/{other.id}/lines/{sandbox.id}/edit",
            data={"csrf_token": token, **TRUNK_FORM},
        ),
        client.get("/accounts/999/lines/new"),
        client.post("/accounts/999/lines/new", data={"csrf_token": token, **TRUNK_FORM}),
    ):
        assert response.status_code == 404
    assert accounts.list_lines(svc, account.id) == [sandbox]
    assert len(accounts.list_lines(svc, other.id)) == 1
