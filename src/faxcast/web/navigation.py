"""Where a page goes next: redirects after a POST, their notices, and safe "next" paths."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import RedirectResponse

from faxcast.domain.campaign import Campaign
from faxcast.web import i18n

# What a notice may say: each takes the campaign's name and reference, some a count too.
_NOTICES: Final = frozenset({"created", "launched", "stopped", "deleted"})
_COUNTED_NOTICES: Final = frozenset({"flagged_removed", "stopping"})
_PARAMS: Final = ("notice", "ref", "name", "count")
_SIGNATURE: Final = "sig"


def safe_next(value: object, default: str) -> str:
    """A local path to go back to; anything else (another site, a scheme) gives `default`."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 32 for c in value):
        return default
    return value


def with_notice(
    path: str, notice: str, campaign: Campaign, *, secret: bytes, count: int | None = None
) -> str:
    """`path` with the notice of what was just done to `campaign` (to `count` of its numbers or
    calls, for a counted notice), signed with `secret`: the page shows only what the server said."""
    parts = urlsplit(path)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in (*_PARAMS, _SIGNATURE)]
    said = [("notice", notice), ("ref", campaign.reference), ("name", campaign.name)]
    if count is not None:
        said.append(("count", str(count)))
    said.append((_SIGNATURE, _sign(secret, said)))
    return urlunsplit(("", "", parts.path, urlencode(kept + said), ""))


def notice(request: Request, t: i18n.Translator, *, secret: bytes) -> str:
    """What was just done, as `with_notice` signed it in the redirect's query; else nothing."""
    query = request.query_params
    said = [(k, query[k]) for k in _PARAMS if k in query]
    if not hmac.compare_digest(query.get(_SIGNATURE, ""), _sign(secret, said)):
        return ""
    values = dict(said)
    done, named = values.get("notice", ""), {"name": values["name"], "ref": values["ref"]}
    if done in _NOTICES:
        return t(f"notice.{done}", **named)
    count = values.get("count", "")
    if done in _COUNTED_NOTICES and count.isdigit():
        return t(f"notice.{done}", **named, count=int(count))
    return ""


def _sign(secret: bytes, said: list[tuple[str, str]]) -> str:
    key = hmac.new(secret, b"faxcast web notice", hashlib.sha256).digest()
    return hmac.new(key, urlencode(said).encode(), hashlib.sha256).hexdigest()


def redirect(path: str) -> RedirectResponse:
    """Go to `path` after a POST (303: the browser follows with a GET)."""
    return RedirectResponse(path, status_code=303)


def with_done(path: str, done: str) -> str:
    """`path` with ?done=…: what was just done, for pages whose notice names no campaign."""
    return f"{path}?{urlencode({'done': done})}"


def done_notice(request: Request, t: i18n.Translator, prefix: str, known: frozenset[str]) -> str:
    """The notice `prefix` + ?done=… says (only known ones: the query is anyone's to write)."""
    done = request.query_params.get("done", "")
    return t(prefix + done) if done in known else ""
