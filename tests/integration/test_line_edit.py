"""A line's common settings and an account's name, time zone and language changed after
creation: by the services, the API and the web pages; for admins only, in their own account."""

from __future__ import annotations

from typing import Any, Final

import pytest

from faxcast.domain.access import AuditAction
from faxcast.domain.models import LineSettings
from faxcast.domain.quality import Quality
from faxcast.errors import ForbiddenError, MultipleInputError, NotFoundError
from faxcast.fields import Field
from faxcast.services import accounts, audit, users
from faxcast.services.context import Services
from faxcast.store import repository
from faxcast.web import csrf
from faxcast.web.rendering import LANG_COOKIE
from tests.identity import Identity
from tests.integration.two_accounts import PROBLEM, Site, site

__all__ = ["site"]  # the fixture, imported for pytest

FORBIDDEN: Final = "only the account's admins may do this"


def _as(site: Site, who: Identity) -> Services:
    with site.svc.transaction() as conn:
        caller = users.caller_of(conn, repository.get_user(conn, who.user_id))
    return site.svc.acting_for(caller)


def _common(line: Any, **changes: Any) -> LineSettings:
    values = {
        "name": line.name,
        "kind": line.kind,
        "country": line.country,
        "ident": line.ident,
        "header": line.header,
        "channel_limit": line.channel_limit,
        "sip": line.sip,
        "quality": line.quality,
        "max_calls": line.max_calls,
    }
    return LineSettings(**(values | changes))


# --- services -------------------------------------------------------------------------------


def test_an_admin_changes_every_common_setting_of_a_line(site: Site) -> None:
    alpha = site.alpha
    svc = _as(site, alpha.admin)
    line = accounts.get_line(svc, alpha.account, alpha.sandbox_line)
    assert (line.quality, line.max_calls) == (Quality.NORMAL, None)
    wanted = _common(
        line,
        name=" Ventes ",
        header="ACME VENTES",
        ident="+33 1 23 45 67 89",
        country="be",
        channel_limit=3,
        quality=Quality.BEST,
        max_calls=2,
    )
    changed = accounts.update_line(svc, alpha.account, line.id, wanted)
    assert (changed.name, changed.header, changed.ident, changed.country) == (
        "Ventes",
        "ACME VENTES",
        "+33 1 23 45 67 89",
        "BE",
    )
    assert (changed.channel_limit, changed.quality, changed.max_calls) == (3, Quality.BEST, 2)
    assert accounts.get_line(svc, alpha.account, line.id) == changed
    # Back to the server's policy.
    back = accounts.update_line(svc, alpha.account, line.id, _common(changed, max_calls=None))
    assert back.max_calls is None
    events = audit.list_events(svc, alpha.account, limit=2)
    assert [(e.action, e.subject) for e in events] == [(AuditAction.LINE_CHANGED, "Ventes")] * 2


@pytest.mark.parametrize("tries", [0, 10, -1])
def test_tries_outside_the_providers_range_are_refused_and_change_nothing(
    site: Site, tries: int
) -> None:
    alpha = site.alpha
    svc = _as(site, alpha.admin)
    line = accounts.get_line(svc, alpha.account, alpha.sandbox_line)
    with pytest.raises(MultipleInputError) as refused:
        accounts.update_line(
            svc, alpha.account, line.id, _common(line, max_calls=tries, channel_limit=0)
        )
    assert [e.field for e in refused.value.errors] == [Field.CHANNEL_LIMIT, Field.MAX_CALLS]
    assert accounts.get_line(svc, alpha.account, line.id) == line


def test_an_admin_renames_the_account_and_changes_its_zone_and_language(site: Site) -> None:
    alpha = site.alpha
    svc = _as(site, alpha.admin)
    changed = accounts.update_account(
        svc, alpha.account, name=" Acme Lyon ", timezone="America/Montreal", language="en"
    )
    assert (changed.name, changed.timezone, changed.language) == (
        "Acme Lyon",
        "America/Montreal",
        "en",
    )
    assert accounts.get_account(svc, alpha.account) == changed
    [event] = audit.list_events(svc, alpha.account, limit=1)
    assert (event.action, event.subject) == (AuditAction.ACCOUNT_CHANGED, "Acme Lyon")


def test_a_bad_account_setting_names_each_field_and_changes_nothing(site: Site) -> None:
    alpha = site.alpha
    svc = _as(site, alpha.admin)
    before = accounts.get_account(svc, alpha.account)
    with pytest.raises(MultipleInputError) as refused:
        accounts.update_account(
            svc, alpha.account, name="  ", timezone="Mars/Olympus", language="de"
        )
    assert [e.field for e in refused.value.errors] == [Field.NAME, Field.TIMEZONE, Field.LANGUAGE]
    assert accounts.get_account(svc, alpha.account) == before


def test_a_member_may_change_neither_lines_nor_the_account(site: Site) -> None:
    alpha = site.alpha
    svc = _as(site, alpha.member)
    line = accounts.get_line(svc, alpha.account, alpha.line)
    with pytest.raises(ForbiddenError):
        accounts.update_line(svc, alpha.account, line.id, _common(line, max_calls=1))
    with pytest.raises(ForbiddenError):
        accounts.update_account(svc, alpha.account, name="Mine", timezone="UTC", language="en")
    assert accounts.get_line(svc, alpha.account, line.id) == line


def test_another_accounts_admin_finds_neither(site: Site) -> None:
    svc = _as(site, site.bravo.admin)
    with pytest.raises(NotFoundError):
        accounts.update_account(svc, site.alpha.account, name="X", timezone="UTC", language="en")
    with pytest.raises(NotFoundError):
        accounts.get_line(svc, site.alpha.account, site.alpha.line)


# --- API ------------------------------------------------------------------------------------


def test_the_api_changes_the_account_for_its_admins_only(site: Site) -> None:
    alpha = site.alpha
    url = f"/telephony/{alpha.account}"
    body = {"name": "Acme Nord", "timezone": "Europe/Brussels", "language": "en"}
    with site.client(alpha.member) as http:
        refused = http.put(url, json=body)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["detail"] == FORBIDDEN
    with site.client(site.bravo.admin) as http:
        assert http.put(url, json=body).status_code == 404
    with site.client(alpha.admin) as http:
        changed = http.put(url, json=body)
        assert changed.status_code == 200, changed.text
        assert {k: changed.json()[k] for k in body} == body
        bad = http.put(
            url,
            json={"name": "", "timezone": "Nowhere/Town", "language": "en"},
            headers={"Accept-Language": "fr"},
        )
        assert bad.status_code == 422
        errors = bad.json()["errors"]
        assert [e["field"] for e in errors] == ["name", "timezone"]
        assert "fuseau horaire inconnu" in errors[1]["message"]
        assert http.put(url, json={**body, "language": "de"}).status_code == 422
        assert http.get(url).json()["name"] == "Acme Nord"


def test_the_api_refuses_a_members_line_settings_and_finds_no_other_accounts_line(
    site: Site,
) -> None:
    alpha = site.alpha
    url = f"/telephony/{alpha.account}/fax/{alpha.line}/settings"
    with site.client(alpha.admin) as http:
        settings = http.get(url).json()
    with site.client(alpha.member) as http:
        assert http.put(url, json={**settings, "maxCalls": 2}).status_code == 403
    with site.client(site.bravo.admin) as http:
        assert http.put(url, json={**settings, "maxCalls": 2}).status_code == 404
    with site.client(alpha.admin) as http:
        fr = http.put(url, json={**settings, "maxCalls": 12}, headers={"Accept-Language": "fr"})
        assert fr.status_code == 422
        assert "tentatives d'envoi" in fr.json()["errors"][0]["message"]
        assert http.get(url).json() == settings


def test_a_campaign_naming_no_quality_takes_its_lines(site: Site) -> None:
    alpha = site.alpha
    base = f"/telephony/{alpha.account}/fax/{alpha.line}"
    with site.client(alpha.admin) as http:
        settings = http.get(f"{base}/settings").json()
        assert http.put(f"{base}/settings", json={**settings, "quality": "high"}).status_code == 200
        body = {
            "name": "Default quality",
            "documentId": alpha.pdf,
            "sendType": "manual",
            "recipientsList": "+33 1 23 45 67 89",
        }
        taken = http.post(f"{base}/campaigns", json=body)
        named = http.post(f"{base}/campaigns", json={**body, "faxQuality": "best"})
    assert taken.status_code == named.status_code == 201
    assert (taken.json()["faxQuality"], named.json()["faxQuality"]) == ("high", "best")


# --- web pages ------------------------------------------------------------------------------


def test_the_line_form_edits_quality_and_tries_and_the_page_shows_them(site: Site) -> None:
    alpha = site.alpha
    path = f"/accounts/{alpha.account}/lines/{alpha.sandbox_line}"
    with site.client(alpha.admin) as http:
        http.cookies.set(LANG_COOKIE, "fr")
        form = http.get(f"{path}/edit")
        assert form.status_code == 200
        assert "Nombre de tentatives par numéro" in form.text
        assert "Qualité d'envoi par défaut" in form.text.replace("&#39;", "'")
        token = site.csrf_token(http)
        data = {
            csrf.FIELD: token,
            "name": "Fax Lyon",
            "kind": "sandbox",
            "country": "FR",
            "ident": "+33 4 00 00 00 00",
            "header": "ACME LYON",
            "channel_limit": "2",
            "quality": "best",
            "max_calls": "3",
        }
        bad = http.post(f"{path}/edit", data={**data, "max_calls": "12"})
        assert bad.status_code == 422
        assert "doit être compris entre 1 et 9" in bad.text
        assert 'aria-invalid="true"' in bad.text
        saved = http.post(f"{path}/edit", data=data)
        assert saved.status_code == 303, saved.text
        page = http.get(path).text
        # A new campaign's form starts at the line's default quality.
        new_form = http.get(f"{path}/fax/campaigns/new").text
    assert "Meilleure" in page
    assert "<dd>3</dd>" in page
    assert "ACME LYON" in page
    assert 'value="best" checked' in new_form
    assert 'value="normal" checked' not in new_form
    line = accounts.get_line(site.svc, alpha.account, alpha.sandbox_line)
    assert (line.quality, line.max_calls, line.name) == (Quality.BEST, 3, "Fax Lyon")


def test_the_group_is_a_link_to_its_page_which_its_admins_edit(site: Site) -> None:
    alpha = site.alpha
    account_path = f"/accounts/{alpha.account}"
    with site.client(alpha.admin) as http:
        http.cookies.set(LANG_COOKIE, "fr")
        line_page = http.get(f"{account_path}/lines/{alpha.line}").text
        assert f'href="{account_path}"' in line_page
        for page_path in ("/", f"{account_path}/users", f"{account_path}/audit"):
            assert f'href="{account_path}"' in http.get(page_path).text, page_path
        page = http.get(account_path)
        assert page.status_code == 200
        assert "alpha-line-name" in page.text
        assert "Modifier le groupe" in page.text
        token = site.csrf_token(http)
        bad = http.post(
            f"{account_path}/edit",
            data={csrf.FIELD: token, "name": "Acme", "timezone": "Lune/Base", "language": "fr"},
        )
        assert bad.status_code == 422
        assert "Fuseau horaire inconnu : « Lune/Base »" in bad.text
        assert 'value="Lune/Base"' in bad.text
        saved = http.post(
            f"{account_path}/edit",
            data={
                csrf.FIELD: token,
                "name": "Acme Sud",
                "timezone": "Europe/Paris",
                "language": "en",
            },
        )
        assert saved.status_code == 303
        shown = http.get(saved.headers["location"]).text
        assert "Groupe enregistré." in shown
        assert "Groupe Acme Sud" in shown
    assert accounts.get_account(site.svc, alpha.account).language == "en"
    with site.client(alpha.member) as http:
        assert "Modifier le groupe" not in http.get(account_path).text
        assert http.get(f"{account_path}/edit").status_code == 403
        token = site.csrf_token(http)
        refused = http.post(
            f"{account_path}/edit",
            data={csrf.FIELD: token, "name": "Mine", "timezone": "UTC", "language": "fr"},
        )
        assert refused.status_code == 403
    with site.client(site.bravo.admin) as http:
        assert http.get(account_path).status_code == 404
        assert http.get(f"{account_path}/edit").status_code == 404
    assert accounts.get_account(site.svc, alpha.account).name == "Acme Sud"
