"""Where a page goes next: redirects after a POST, their notices, and safe "next" paths."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import RedirectResponse

from faxcast.web import i18n

_NOTICES: Final = frozenset({"created", "launched", "stopped", "deleted"})
# Notices that also say how many (?count=…).
_COUNTED_NOTICES: Final = frozenset({"flagged_removed"})


def safe_next(value: object, default: str) -> str:
    """A local path to go back to; anything else (another site, a scheme) gives `default`."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 32 for c in value):
        return default
    return value


def with_notice(path: str, notice: str, reference: str, *, count: int | None = None) -> str:
    """`path` with the notice of what was just done to the campaign `reference` (to `count`
    of its numbers, for a counted notice)."""
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("notice", "ref", "count")]
    query += [("notice", notice), ("ref", reference)]
    if count is not None:
        query.append(("count", str(count)))
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def notice(request: Request, t: i18n.Translator) -> str:
    """What was just done, from the redirect's ?notice=…&ref=… (only known notices)."""
    done = request.query_params.get("notice", "")
    reference = request.query_params.get("ref", "")
    if not (reference.isalnum() and len(reference) <= 16):
        return ""
    if done in _NOTICES:
        return t(f"notice.{done}", ref=reference)
    count = request.query_params.get("count", "")
    if done in _COUNTED_NOTICES and count.isdigit() and len(count) <= 9:
        return t(f"notice.{done}", ref=reference, count=int(count))
    return ""


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
