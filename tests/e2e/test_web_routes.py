"""The web pages without a browser (httpx on the ASGI app): CSRF, escaping, CSV, form, scoping."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from faxcast.bootstrap import create_app
from faxcast.clock import SystemClock
from faxcast.config import Settings
from faxcast.domain.access import AuditAction, Role
from faxcast.domain.campaign import Campaign, CampaignOutcome, CampaignState, SendType
from faxcast.domain.dialling import Dialling
from faxcast.domain.models import Line, LineKind
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.domain.sip_line import T38Mode
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.web import csrf, i18n
from faxcast.web.rendering import TEMPLATES_DIR
from tests import pdfs
from tests.asgi import SyncAsgiTransport
from tests.catalogs import catalog_keys
from tests.identity import as_tester
from tests.integration.test_api import ONE_NUMBER, PROBABLY_INVALID, row_counts
from tests.integration.test_campaign_flow import BUSY, HEALTHY, VOICE, World, world  # noqa: F401
from tests.integration.test_remove_flagged import MIXED as FLAGGED_AMONG_OTHERS

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
OTHER_KEY = "another-server-s-secret-key-0123456789"


@pytest.fixture
def svc(sqlite_database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services on a fresh SQLite database; no worker runs, so campaigns stay where they are put."""
    engine = create_engine_for(sqlite_database_url)
    yield Services(
        engine=engine,
        blobs=FileBlobStore(tmp_path / "blobs"),
        clock=SystemClock(),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )
    engine.dispose()


@pytest.fixture
def line(svc: Services) -> Line:
    """The sandbox line of a new account."""
    account = accounts.create_account(svc, name="Acme")
    return accounts.list_lines(svc, account.id)[0]


def web_client(svc: Services) -> httpx.Client:
    """A client (with its own cookies) of a fresh app over `svc`, signed in as the tests'
    admin of every account."""
    client = httpx.Client(
        transport=SyncAsgiTransport(create_app(svc)), base_url="http://faxcast.test"
    )
    as_tester(svc, client)
    return client


@pytest.fixture
def client(svc: Services) -> Iterator[httpx.Client]:
    """A browser stand-in: it keeps cookies and does not follow redirects."""
    with web_client(svc) as client:
        yield client


def with_key(svc: Services, key: str, data_dir: Path | None = None) -> Services:
    """`svc` with FAXCAST_SECRET_KEY set to `key` (and another data folder if given)."""
    settings = Settings(
        data_dir=data_dir or svc.settings.data_dir,
        default_country="FR",
        secret_key=SecretStr(key),
    )
    return replace(svc, settings=settings)


def base(line: Line) -> str:
    return f"/accounts/{line.account_id}/lines/{line.id}/fax/campaigns"


def token_of(client: httpx.Client, path: str) -> str:
    """The CSRF token a page hands out (and the cookie that goes with it, kept by the client)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = _TOKEN.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def new_campaign(svc: Services, line: Line, name: str = "Relance", numbers: str = "") -> Campaign:
    document = documents.upload_document(
        svc, line.account_id, name="letter.pdf", data=pdfs.text_pdf()
    )
    return campaigns.create_campaign(
        svc,
        line.account_id,
        line.id,
        NewCampaign(
            name=name,
            document_id=document.id,
            quality=Quality.NORMAL,
            send_type=SendType.MANUAL,
            send_at=None,
            recipients_list=numbers or "01 23 45 67 89",
        ),
    )


def state_of(svc: Services, line: Line, campaign: Campaign) -> CampaignState:
    return campaigns.get_campaign(svc, line.account_id, line.id, campaign.id).state


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line)
    launch = f"{base(line)}/{campaign.id}/launch"
    token = token_of(client, base(line))

    refused = [
        client.post(launch),
        client.post(launch, data={"csrf_token": "forged"}),
        client.post(launch, headers={csrf.HEADER: token + "x"}),
    ]
    with web_client(svc) as stranger:  # no cookie: a token seen elsewhere is not enough
        refused.append(stranger.post(launch, data={"csrf_token": token}))
    with web_client(with_key(svc, OTHER_KEY)) as other_app:  # a cookie signed with another key
        other_token = token_of(other_app, base(line))
        client.cookies.set(csrf.COOKIE, other_app.cookies[csrf.COOKIE])
        refused.append(client.post(launch, data={"csrf_token": other_token}))

    assert [r.status_code for r in refused] == [403] * 5
    assert "The form has expired" in refused[0].text
    assert state_of(svc, line, campaign) is CampaignState.WAITING

    client.cookies.delete(csrf.COOKIE)
    token = token_of(client, base(line))
    launched = client.post(launch, data={"csrf_token": token, "next": base(line)})
    assert launched.status_code == 303
    assert launched.headers["location"].startswith(
        f"{base(line)}?notice=launched&ref={campaign.reference}&name=Relance&sig="
    )
    assert state_of(svc, line, campaign) is CampaignState.RUNNING


def test_a_form_holds_across_apps_and_restarts_that_share_the_key(
    svc: Services, line: Line, client: httpx.Client, sqlite_database_url: str, tmp_path: Path
) -> None:
    preview = f"/accounts/{line.account_id}/lines/{line.id}/fax/preview"
    token = token_of(client, f"{base(line)}/new")
    cookie = client.cookies[csrf.COOKIE]
    engine = create_engine_for(sqlite_database_url)
    restarted = Services(
        engine=engine,
        blobs=FileBlobStore(tmp_path / "blobs"),
        clock=SystemClock(),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )

    def post_to(app_svc: Services) -> int:
        """The status of the form, opened in `client`, posted to a fresh app over `app_svc`."""
        with web_client(app_svc) as browser:
            browser.cookies.set(csrf.COOKIE, cookie)
            return browser.post(preview, data={"csrf_token": token}).status_code

    try:
        assert post_to(svc) == 200  # a second process on the same data folder
        assert post_to(restarted) == 200  # the server after a restart
        assert post_to(with_key(svc, OTHER_KEY)) == 403
    finally:
        engine.dispose()

    # Hosts with one configured key (and data folders of their own) accept each other's forms.
    configured = "the-key-every-host-is-given-0123456789"
    with web_client(with_key(svc, configured, tmp_path / "host-a")) as host_a:
        token = token_of(host_a, f"{base(line)}/new")
        cookie = host_a.cookies[csrf.COOKIE]
    assert post_to(with_key(svc, configured, tmp_path / "host-b")) == 200
    assert post_to(svc) == 403


def test_user_text_is_escaped_on_every_page(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line, name=SCRIPT)
    pages = [
        base(line),
        f"{base(line)}/table",
        f"{base(line)}/{campaign.id}",
        f"{base(line)}/{campaign.id}/status",
        f"{base(line)}/{campaign.id}/delete",
    ]
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        assert SCRIPT not in page.text, path
        assert ESCAPED in page.text, path

    token = token_of(client, f"{base(line)}/new")
    refused = client.post(
        f"{base(line)}/new",
        data={
            "csrf_token": token,
            "name": SCRIPT,
            "quality": "normal",
            "send_type": "manual",
            "recipients_type": "list",
            "recipients_list": "<b>123</b>",
        },
        files={"pdf": ("letter.pdf", pdfs.text_pdf(), "application/pdf")},
    )
    assert refused.status_code == 422
    assert SCRIPT not in refused.text
    assert f'value="{ESCAPED}"' in refused.text
    assert "<b>123</b>" not in refused.text
    assert "&lt;b&gt;123&lt;/b&gt;" in refused.text


def test_the_results_csv_has_every_recipient(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line, name="=HYPERLINK(1)", numbers="01 23 45 67 89; +33123456790")

    response = client.get(f"{base(line)}/{campaign.id}/results.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="faxcast-{campaign.reference}-results.csv"'
    )
    # A BOM, so that a spreadsheet reads it as UTF-8.
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response.content.startswith(codecs.BOM_UTF8)
    # The entry as typed comes last, where it differs from the number (and never as a formula).
    assert rows == [
        [
            "position",
            "number",
            "result",
            "attempts",
            "pages_confirmed",
            "reason",
            "settled_at",
            "typed",
        ],
        ["1", "+33123456789", "pending", "0", "0", "", "", "01 23 45 67 89"],
        ["2", "+33123456790", "pending", "0", "0", "", "", ""],
    ]


def test_the_details_and_their_poll_show_one_page_of_recipients(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    numbers = [f"01 23 45 {n // 100:02d} {n % 100:02d}" for n in range(150)]
    campaign = new_campaign(svc, line, numbers="\n".join(numbers))
    details = f"{base(line)}/{campaign.id}"
    english = {"Accept-Language": "en"}

    first = client.get(details, headers=english)
    second = client.get(f"{details}/status?page=2", headers=english)
    past = client.get(f"{details}/status?page=7", headers=english)

    assert "Recipients 1 to 100 of 150" in first.text
    assert "+33123450099" in first.text
    assert "+33123450100" not in first.text
    assert "Recipients 101 to 150 of 150" in second.text
    assert "+33123450100" in second.text
    assert "+33123450099" not in second.text
    assert "Recipients 101 to 150 of 150" in past.text


def test_a_valid_form_creates_the_campaign_from_a_txt_file(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    token = token_of(client, f"{base(line)}/new")

    created = client.post(
        f"{base(line)}/new",
        data={
            "csrf_token": token,
            "name": "Autumn",
            "quality": "best",
            "send_type": "scheduled",
            "send_date": "2099-06-01",
            "send_time": "09:30",
            "recipients_type": "file",
            "recipients_list": "ignored when a file is chosen",
        },
        files={
            "pdf": ("letter.pdf", pdfs.text_pdf(pages=2), "application/pdf"),
            "recipients_file": ("numbers.txt", b"01 23 45 67 89\n01 23 45 67 90\n", "text/plain"),
        },
    )

    assert created.status_code == 303, created.text
    [campaign] = campaigns.list_campaigns(svc, line.account_id, line.id).items
    assert created.headers["location"].startswith(
        f"{base(line)}?notice=created&ref={campaign.reference}&name=Autumn&sig="
    )
    assert (campaign.name, campaign.quality, campaign.state) == (
        "Autumn",
        Quality.BEST,
        CampaignState.SCHEDULED,
    )
    assert campaign.send_at is not None
    assert campaign.send_at.isoformat() == "2099-06-01T07:30:00+00:00"  # 09:30 in Paris, summer
    assert campaign.count_total == 2
    table = client.get(created.headers["location"])
    assert f"Campaign “Autumn” created (reference {campaign.reference})." in table.text
    assert "2099-06-01 09:30" in table.text


def test_an_invalid_form_stores_nothing_and_names_each_bad_number(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    token = token_of(client, f"{base(line)}/new")

    refused = client.post(
        f"{base(line)}/new",
        headers={"Accept-Language": "fr-FR,fr;q=0.9"},
        data={
            "csrf_token": token,
            "name": "Relance",
            "quality": "high",
            "send_type": "manual",
            "recipients_type": "list",
            "recipients_list": "01 23 45 67 89\n+33 1 2x, 12",
        },
        files={"pdf": ("letter.pdf", pdfs.text_pdf(), "application/pdf")},
    )

    assert refused.status_code == 422
    assert "Ligne 2, colonne 1 : « +33 1 2x » <span>contient &#39;x&#39;" in refused.text
    assert "Ligne 2, colonne 11 : « 12 » <span>a 2 chiffres ; il en faut au moins 6" in refused.text
    assert documents.list_documents(svc, line.account_id) == []
    assert campaigns.list_campaigns(svc, line.account_id, line.id).total == 0


def post_list(client: httpx.Client, line: Line, numbers: str, lang: str = "en") -> httpx.Response:
    """The form posted with a typed list of numbers and a PDF."""
    token = token_of(client, f"{base(line)}/new")
    return client.post(
        f"{base(line)}/new",
        headers={"Accept-Language": lang},
        data={
            "csrf_token": token,
            "name": "Relance",
            "quality": "high",
            "send_type": "manual",
            "recipients_type": "list",
            "recipients_list": numbers,
        },
        files={"pdf": ("letter.pdf", pdfs.text_pdf(), "application/pdf")},
    )


def test_the_form_keeps_what_the_guide_accepts_and_says_what_needs_a_look(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    before = row_counts(svc.engine)

    created = post_list(client, line, f"{PROBABLY_INVALID}\n{ONE_NUMBER}")

    # Which entries were merged is told once, in the answer to the form.
    assert created.status_code == 201, created.text
    [campaign] = campaigns.list_campaigns(svc, line.account_id, line.id).items
    assert campaign.count_total == 6
    assert row_counts(svc.engine)[:2] == (before[0] + 1, before[1] + 6)
    page = created.text
    assert f"Campaign “{campaign.name}” created (reference {campaign.reference})." in page
    assert "5 numbers probably invalid, kept as typed" in page
    assert (
        '<th scope="row">Line 2, column 29: “(0) 8-12-34”</th>\n        <td>081234</td>\n'
        "        <td>probably invalid for country FR: 9 digits expected after +33, this one has 6;"
        " dialled as typed</td>"
    ) in page
    assert "3 entries merged with another one: each number is sent once" in page
    merged = re.search(r'<li data-number="\+33123456789">(.*?)</ul>', page, re.S)
    assert merged is not None
    assert re.findall(r"<li>(Line .*?)</li>", merged.group(1)) == [
        "Line 4, column 1: “0123456789”",
        "Line 5, column 1: “01 23 45 67 89”",
        "Line 5, column 17: “+33123456789”",
        "Line 5, column 31: “33123456789”",
    ]
    detail_url = f"{base(line)}/{campaign.id}"
    assert f'href="{detail_url}"' in page

    # The campaign's page shows each kept number's warning beside it, in the page's language.
    detail = client.get(detail_url, headers={"Accept-Language": "fr"}).text
    assert (
        '<th scope="row" data-label="Numéro">123456<br><span class="number-warning">'
        "probablement invalide pour le pays FR : 9 chiffres attendus après +33, celui-ci en a 6 ;"
        " composé tel quel</span></th>"
    ) in detail
    # As typed, with the number dialled beside it.
    assert (
        '<th scope="row" data-label="Numéro">(0) 8-12-34 <span class="muted small">081234</span>'
    ) in detail
    assert (
        '<th scope="row" data-label="Numéro">0123456789 <span class="muted small">+33123456789'
        "</span></th>"
    ) in detail


def test_a_clean_list_goes_to_the_table_and_a_refused_one_stores_nothing(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    before = row_counts(svc.engine)

    refused = post_list(client, line, "123456, 12345\n12+3456", lang="fr")
    assert refused.status_code == 422
    assert "Ligne 1, colonne 9 : « 12345 »" in refused.text
    assert "Ligne 2, colonne 1 : « 12+3456 »" in refused.text
    assert "123456 »" not in refused.text  # kept with a warning, not refused
    assert row_counts(svc.engine) == before

    clean = post_list(client, line, "01 23 45 67 89, 01 98 76 54 32")
    assert clean.status_code == 303
    assert row_counts(svc.engine)[:2] == (before[0] + 1, before[1] + 2)


def test_the_preview_shows_the_first_pages_at_the_quality(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    token = token_of(client, f"{base(line)}/new")
    path = f"/accounts/{line.account_id}/lines/{line.id}/fax/preview"

    shown = client.post(
        path,
        headers={csrf.HEADER: token},
        data={"quality": "high"},
        files={"pdf": ("five.pdf", pdfs.text_pdf(pages=5), "application/pdf")},
    )
    not_pdf = client.post(
        path, headers={csrf.HEADER: token}, files={"pdf": ("notes.pdf", b"just text")}
    )

    assert shown.status_code == 200
    assert shown.text.count('src="data:image/png;base64,') == 3
    assert "3 of 5 pages shown." in shown.text
    assert "The file is text, not a PDF." in not_pdf.text
    assert client.post(path, files={"pdf": ("a.pdf", pdfs.text_pdf())}).status_code == 403


def test_another_accounts_objects_are_not_found(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line)
    other = accounts.create_account(svc, name="Other")
    other_line = accounts.list_lines(svc, other.id)[0]
    token = token_of(client, base(line))

    paths = [
        f"/accounts/{other.id}/lines/{line.id}/fax/campaigns",
        f"{base(other_line)}/{campaign.id}",
        f"{base(other_line)}/{campaign.id}/results.csv",
        f"{base(line)}/not-a-number",
    ]
    for path in paths:
        page = client.get(path)
        assert page.status_code == 404, path
        assert "does not exist, or it belongs to another account" in page.text
    deleted = client.post(f"{base(other_line)}/{campaign.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 404
    assert state_of(svc, line, campaign) is CampaignState.WAITING


def test_an_action_the_state_does_not_allow_is_a_409_page(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line)
    token = token_of(client, base(line))

    stopped = client.post(f"{base(line)}/{campaign.id}/stop", data={"csrf_token": token})
    french = client.post(
        f"{base(line)}/{campaign.id}/stop",
        data={"csrf_token": token},
        headers={"Accept-Language": "fr"},
    )

    assert stopped.status_code == 409
    assert "not possible in the campaign&#39;s current state" in stopped.text
    assert f"cannot stop campaign &#39;{campaign.name}&#39;: it is waiting" in stopped.text
    assert french.status_code == 409
    assert f"impossible de stopper la campagne « {campaign.name} » : elle est en attente" in (
        french.text
    )


def test_redirects_stay_on_this_site(svc: Services, line: Line, client: httpx.Client) -> None:
    campaign = new_campaign(svc, line)
    token = token_of(client, base(line))

    launched = client.post(
        f"{base(line)}/{campaign.id}/launch",
        data={"csrf_token": token, "next": "//evil.example/phish"},
    )
    switched = client.get("/lang/fr", params={"next": "https://evil.example/"})

    assert launched.headers["location"].startswith(base(line) + "?")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/"
    assert client.cookies["lang"] == "fr"
    assert '<html lang="fr">' in client.get("/").text


@pytest.mark.parametrize(
    ("accept", "cookie", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", None, "fr"),
        ("de-DE,en;q=0.5,fr;q=0.4", None, "en"),
        ("de, fr-CA;q=0.7", None, "fr"),
        ("en;q=0, fr;q=0.1", None, "fr"),
        (None, None, "en"),
        ("fr", "en", "en"),
        ("en", "fr", "fr"),
        ("fr", "xx", "fr"),
    ],
)
def test_the_language_is_the_cookie_else_the_browsers(
    accept: str | None, cookie: str | None, expected: str
) -> None:
    assert i18n.negotiate(accept, cookie) == expected


def test_both_languages_have_every_message_the_pages_use() -> None:
    keys = catalog_keys("en")
    assert keys == catalog_keys("fr")
    used = set()
    for source in [*TEMPLATES_DIR.glob("*.html"), *TEMPLATES_DIR.parent.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_./]+)["']""", source.read_text()))
    assert used, "no message found: the pattern no longer matches the templates"
    # Keys built from a value ("state." ~ campaign.state.value): every value has its message.
    values = {
        "state.": CampaignState,
        "outcome.": CampaignOutcome,
        "quality.": Quality,
        "send_type.": SendType,
        "recipient.": RecipientState,
        "line.kind.": LineKind,
        "lineform.dialling.": Dialling,
        "lineform.t38.": T38Mode,
        "role.": Role,
        "audit.action.": AuditAction,
    }
    assert {key for key in used if key.endswith(".")} == set(values)
    for prefix, kind in values.items():
        assert {prefix + member.value for member in kind} <= keys, prefix
    assert {key for key in used if not key.endswith(".")} <= keys


def test_the_french_pages_use_the_guides_labels(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line, name="Relance")
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}

    table = client.get(base(line), headers=french).text
    details = client.get(f"{base(line)}/{campaign.id}", headers=french).text
    form = client.get(f"{base(line)}/new", headers=french).text

    for label in (
        "Campagnes de fax",
        "+ Nouvelle campagne",
        "Détails",
        "Lancer la campagne",
        "Supprimer",
        "En attente de lancement",
        "N/A",
        "Planification",
    ):
        assert label in table, label
    assert "Stopper la campagne" not in table  # a waiting campaign cannot be stopped
    for label in ("Référence", "État", "Statut", "Planification", "Statut des envois"):
        assert label in details, label
    for label in (
        "Nom de la campagne",
        "Document à faxer (format pdf)",
        "Qualité d&#39;envoi",
        "Normale",
        "Haute",
        "Meilleure",
        "Type d&#39;envoi",
        "Programmé",
        "Manuel",
        "Date d&#39;envoi",
        "Heure d&#39;envoi",
        "Destinataires",
        "Entrer les destinataires manuellement",
        "Fichier de destinataires",
        "Valider",
    ):
        assert label in form, label


def test_the_created_page_removes_the_flagged_numbers_in_one_go(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    created = post_list(client, line, FLAGGED_AMONG_OTHERS, lang="fr")

    assert created.status_code == 201, created.text
    [campaign] = campaigns.list_campaigns(svc, line.account_id, line.id).items
    action = f"{base(line)}/{campaign.id}/remove-flagged"
    assert f'<form method="post" class="buttons" action="{action}">' in created.text
    assert ">Retirer les 2 numéros signalés</button>" in created.text
    token = _TOKEN.search(created.text)
    assert token is not None
    before = row_counts(svc.engine)
    assert client.post(action).status_code == 403  # no CSRF token
    assert row_counts(svc.engine) == before

    done = client.post(action, data={"csrf_token": token.group(1)})

    assert done.status_code == 303
    details = f"{base(line)}/{campaign.id}"
    notice = f"notice=flagged_removed&ref={campaign.reference}&name={campaign.name}&count=2&sig="
    assert done.headers["location"].startswith(f"{details}?{notice}")
    page = client.get(done.headers["location"], headers={"Accept-Language": "fr"}).text
    assert (
        f"Campagne « {campaign.name} » (référence {campaign.reference}) : "
        "2 numéros signalés retirés."
    ) in page
    assert "remove-flagged" not in page
    assert row_counts(svc.engine)[1] == before[1] - 2
    assert campaigns.get_campaign(svc, line.account_id, line.id, campaign.id).count_total == 3


def test_the_details_offer_the_removal_until_the_campaign_starts(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line, numbers=FLAGGED_AMONG_OTHERS)
    details = f"{base(line)}/{campaign.id}"
    page = client.get(details).text
    assert "2 numbers of this campaign are flagged as probably invalid." in page
    assert ">Remove the 2 flagged numbers</button>" in page
    token = _TOKEN.search(page)
    assert token is not None
    # Launched meanwhile (another tab, the API): the removal is refused and says why.
    campaigns.launch_campaign(svc, line.account_id, line.id, campaign.id)
    before = row_counts(svc.engine)

    refused = client.post(f"{details}/remove-flagged", data={"csrf_token": token.group(1)})

    assert refused.status_code == 409
    assert "cannot remove numbers from campaign" in refused.text
    assert "it is running" in refused.text
    assert row_counts(svc.engine) == before
    assert "remove-flagged" not in client.get(details).text


def test_a_campaign_whose_numbers_are_all_flagged_offers_no_removal(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    created = post_list(client, line, "123456, 01 23 45")
    assert created.status_code == 201, created.text
    assert "2 numbers probably invalid, kept as typed" in created.text
    assert "remove-flagged" not in created.text
    [campaign] = campaigns.list_campaigns(svc, line.account_id, line.id).items
    assert "remove-flagged" not in client.get(f"{base(line)}/{campaign.id}").text


def test_a_campaign_waiting_for_retries_says_so_in_the_table_and_the_details(
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    created = world.create(f"{HEALTHY}, {BUSY}, {VOICE}")
    world.launch(created)
    world.tick()
    account = accounts.list_accounts(world.svc)[0]
    line = accounts.list_lines(world.svc, account.id)[0]
    detail = campaigns.campaign_detail(world.svc, line.account_id, line.id, created["id"])
    retries = detail.retries
    assert retries is not None
    busy = next(r for r in detail.recipients if r.number == "+33123450486")
    assert busy.next_call_at is not None
    zone = account.timezone

    def local(moment: datetime, lang: str) -> str:
        return i18n.format_datetime(moment, zone, lang)

    with web_client(world.svc) as client:
        for lang, summary, left in (
            ("en", "2 numbers to retry, next call at {}, last try by {}", "11 tries left"),
            (
                "fr",
                "2 numéros à rappeler, prochain appel à {}, dernier essai au plus tard à {}",
                "encore 11 essais",
            ),
        ):
            expected = summary.format(
                local(retries.next_call_at, lang), local(retries.last_try_by, lang)
            )
            headers = {"Accept-Language": lang}
            table = client.get(base(line), headers=headers).text
            page = client.get(f"{base(line)}/{created['id']}", headers=headers).text
            assert expected in table
            assert expected in page
            row = page.split('data-number="+33123450486"')[1].split("</tr>")[0]
            assert left in row
            assert local(busy.next_call_at, lang) in row
    # Delivered and failed are two bars of their own: 1 delivered, none failed yet, of 3.
    assert 'viewBox="0 0 3 1"' in page
    assert '<rect class="bar-delivered" x="0" y="0" height="1" width="1"/>' in page
    assert '<rect class="bar-failed" x="1" y="0" height="1" width="0"/>' in page


def test_a_stopped_schedule_is_not_shown_as_planned_and_a_launch_is_dated(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    manual = new_campaign(svc, line, name="Manuelle")
    document = documents.upload_document(svc, line.account_id, name="b.pdf", data=pdfs.text_pdf())
    at = svc.clock.now() + timedelta(days=2)
    planned = campaigns.create_campaign(
        svc,
        line.account_id,
        line.id,
        NewCampaign(
            name="Programmée",
            document_id=document.id,
            quality=Quality.NORMAL,
            send_type=SendType.SCHEDULED,
            send_at=at,
            recipients_list="01 23 45 67 89",
        ),
    )
    english = {"Accept-Language": "en"}
    zone = accounts.get_account(svc, line.account_id).timezone
    when = i18n.format_datetime(at, zone, "en")
    assert f'<time datetime="{at.isoformat()}">' in client.get(base(line), headers=english).text

    campaigns.stop_campaign(svc, line.account_id, line.id, planned.id)
    launched = campaigns.launch_campaign(svc, line.account_id, line.id, manual.id)
    assert launched.started_at is not None
    table = client.get(base(line), headers=english).text
    stopped = client.get(f"{base(line)}/{planned.id}", headers=english).text

    assert f"Stopped; was planned for {when}" in table
    assert f"Stopped; was planned for {when}" in stopped
    assert f'<time datetime="{at.isoformat()}">' not in table
    launch = i18n.format_datetime(launched.started_at, zone, "en")
    assert f"Manual, launched {launch}" in table


def test_notices_name_the_campaign_and_only_say_what_the_server_signed(
    svc: Services, line: Line, client: httpx.Client
) -> None:
    campaign = new_campaign(svc, line, name="Relance <b>")
    details = f"{base(line)}/{campaign.id}"
    token = token_of(client, details)
    stopped = client.post(f"{details}/launch", data={"csrf_token": token, "next": details}).headers[
        "location"
    ]
    french = client.get(stopped, headers={"Accept-Language": "fr"}).text

    assert f"Campagne « Relance &lt;b&gt; » lancée (référence {campaign.reference})." in french
    # A notice written by anyone else (its name, its count or the notice changed) says nothing.
    forged = [
        stopped.replace("name=Relance", "name=Pay+here"),
        stopped.replace("notice=launched", "notice=deleted"),
        stopped.split("&sig=")[0],
        f"{details}?notice=launched&ref={campaign.reference}",
    ]
    for path in forged:
        page = client.get(path, headers={"Accept-Language": "en"}).text
        assert 'class="notice"' not in page, path


def test_a_stop_with_calls_in_progress_says_they_are_ending(
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    created = world.create(f"{HEALTHY}, {BUSY}, {VOICE}", name="Relance")
    world.launch(created)
    account = accounts.list_accounts(world.svc)[0]
    line = accounts.list_lines(world.svc, account.id)[0]
    details = f"{base(line)}/{created['id']}"

    def stop() -> str:
        with web_client(world.svc) as client:
            token = token_of(client, details)
            answer = client.post(f"{details}/stop", data={"csrf_token": token, "next": details})
            return client.get(answer.headers["location"], headers={"Accept-Language": "fr"}).text

    async def stop_during_calls() -> str:
        await world.worker.tick()
        # The stop is asked from another thread while this one blocks: the three calls just
        # placed cannot end (their results are recorded on this loop) before it counts them.
        with ThreadPoolExecutor(1) as pool:
            page = pool.submit(stop).result(timeout=60)
        await world.worker.idle()
        return page

    page = asyncio.run(stop_during_calls())

    assert (
        f"Campagne « Relance » (référence {created['reference']}) : arrêt en cours, "
        "3 appels se terminent ; elle attendra ensuite un lancement manuel."
    ) in page
    assert world.get(created)["state"] == "waiting"
