"""The pages' answer to a request body over the limit (api/body_limit.py): a 413 error page."""

from __future__ import annotations

from typing import Final

from fastapi import Request, Response

from faxcast.i18n import Message
from faxcast.web import i18n
from faxcast.web.rendering import error_page, request_lang
from faxcast.web.where import LINE_PATH

PAGES_PREFIX: Final = LINE_PATH.split("{", 1)[0]
"""Where the pages that take a body (forms, uploads) live: every web POST is under it."""


def is_page(request: Request) -> bool:
    """Whether a browser's page sent the request, so that it must be answered with a page."""
    return request.url.path.startswith(PAGES_PREFIX)


def too_large_page(request: Request, message: Message) -> Response:
    """The error page saying the limit (api/body_limit.too_large_message), in the page's
    language."""
    t = i18n.translator(request_lang(request))
    response = error_page(request, 413, "error.too_large", detail=i18n.sentence(t.message(message)))
    response.headers["Connection"] = "close"
    return response
