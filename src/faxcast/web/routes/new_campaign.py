"""The "+ New campaign" form: shown, previewed page by page, and posted."""

from __future__ import annotations

import base64
from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from faxcast.documents import preview_png, render_pdf
from faxcast.domain.quality import Quality
from faxcast.errors import DocumentError
from faxcast.i18n import megabytes
from faxcast.services.documents import PDF, identify_file
from faxcast.web import i18n
from faxcast.web.campaign_form import FIELDS, CampaignForm, Errors, Upload, submit
from faxcast.web.navigation import redirect, with_notice
from faxcast.web.rendering import HtmlRoute, render, request_lang, services, web_state
from faxcast.web.where import CAMPAIGNS_PATH, LINE_PATH, Where, where_of

PREVIEW_PAGES: Final = 3

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _form_page(
    request: Request, where: Where, form: CampaignForm, errors: Errors, *, status: int = 200
) -> Response:
    lang = request_lang(request)
    t = i18n.translator(lang)
    ids = {"account": str(where.account.id), "line": str(where.line.id)}
    crumbs = where.crumbs(
        request,
        lang,
        (t("tab.fax"), str(request.app.url_path_for("web-fax", **ids))),
        (t("campaigns.title"), str(request.app.url_path_for("web-campaigns", **ids))),
        (t("new.title"), ""),
    )
    return render(
        request,
        "new.html",
        status=status,
        where=where,
        crumbs=crumbs,
        form=form,
        errors={name: errors.by_field[name] for name in FIELDS if name in errors.by_field},
        qualities=list(Quality),
        max_pages=services(request).settings.max_pages,
        max_mb=megabytes(services(request).settings.max_document_bytes),
    )


@router.get(CAMPAIGNS_PATH + "/new", name="web-campaign-new")
def new_campaign(request: Request, account: int, line: int) -> Response:
    """The "+ New campaign" form."""
    where = where_of(services(request), account, line)
    return _form_page(request, where, CampaignForm(quality=where.line.quality.value), Errors())


async def _upload(form: FormData, name: str, limit: int) -> Upload | None:
    """The file chosen in field `name` (at most `limit` + 1 bytes are read), or None."""
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    data = await value.read(limit + 1)
    return Upload(value.filename, data, len(data) if value.size is None else value.size)


@router.post(CAMPAIGNS_PATH + "/new", name="web-campaign-create")
async def create_campaign(request: Request, account: int, line: int) -> Response:
    """Create the campaign and go to the table, or show the form again with every error."""
    svc = services(request)
    where = await run_in_threadpool(where_of, svc, account, line)
    form_data = await request.form()
    texts = {k: v for k, v in form_data.items() if isinstance(v, str)}
    form = CampaignForm.of(texts)
    limit = svc.settings.max_document_bytes
    pdf = await _upload(form_data, "pdf", limit)
    numbers_file = await _upload(form_data, "recipients_file", limit)
    form.pdf_name = pdf.name if pdf else ""
    form.recipients_file_name = numbers_file.name if numbers_file else ""
    result = await run_in_threadpool(
        submit,
        svc,
        where.account,
        where.line,
        form,
        pdf=pdf,
        numbers_file=numbers_file,
        lang=request_lang(request),
    )
    if isinstance(result, Errors):
        return _form_page(request, where, form, result, status=422)
    ids = {"account": str(account), "line": str(line)}
    table = str(request.app.url_path_for("web-campaigns", **ids))
    recipients = result.recipients
    if not (recipients.warning_count or recipients.duplicate_count):
        secret = web_state(request).secret
        return redirect(with_notice(table, "created", result.campaign, secret=secret))
    # Which entries were merged is known only now (it is not stored), so the answer to the form
    # says it, rather than a redirection to a page that could not.
    lang = request_lang(request)
    t = i18n.translator(lang)
    crumbs = where.crumbs(
        request,
        lang,
        (t("tab.fax"), str(request.app.url_path_for("web-fax", **ids))),
        (t("campaigns.title"), table),
        (result.campaign.reference, ""),
    )
    return render(
        request,
        "created.html",
        status=201,
        where=where,
        crumbs=crumbs,
        campaign=result.campaign,
        recipients=recipients,
        table=table,
    )


@router.post(LINE_PATH + "/fax/preview", name="web-preview")
async def preview(request: Request, account: int, line: int) -> Response:
    """The first pages of a PDF as the recipient's machine will print them at a quality."""
    svc = services(request)
    await run_in_threadpool(where_of, svc, account, line)
    form = await request.form()
    pdf = await _upload(form, "pdf", svc.settings.max_document_bytes)
    quality_value = form.get("quality")
    try:
        quality = Quality(quality_value if isinstance(quality_value, str) else "")
    except ValueError:
        quality = Quality.NORMAL
    if pdf is None:
        return render(request, "_preview.html", images=[], count=0, error="")

    def render_pages() -> tuple[list[str], int]:
        limits = svc.settings.document_limits
        # The same verdict as the form's (identify_file) before anything is drawn.
        identify_file(pdf.data, limits=limits, name=pdf.name, expect=PDF, size=pdf.size)
        document = render_pdf(pdf.data, quality.profile.resolution, limits=limits)
        pages = document.pages
        images = [
            "data:image/png;base64," + base64.b64encode(preview_png(page)).decode()
            for page in pages[:PREVIEW_PAGES]
        ]
        return images, len(pages)

    try:
        images, count = await run_in_threadpool(render_pages)
    except DocumentError as error:
        t = i18n.translator(request_lang(request))
        message = i18n.sentence(t.message(error.message))
        return render(request, "_preview.html", images=[], count=0, error=message)
    return render(request, "_preview.html", images=images, count=count, error="")
