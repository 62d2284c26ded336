"""The caller's documents: PDFs to fax and .txt lists of numbers (/me/document), those of
every account the token's user belongs to."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from faxcast.api import schemas
from faxcast.api.deps import ServicesDep
from faxcast.api.problems import problem_responses
from faxcast.services import documents

router = APIRouter(
    prefix="/me/document",
    tags=["documents"],
    responses=problem_responses(400, 404, 422),
)


# The body is read by the route, not by FastAPI: FastAPI reads a File parameter before the
# token is checked, so anyone could make the server spool a large upload to disk.
_UPLOAD_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "a PDF to fax, or a .txt list of numbers",
                        }
                    },
                }
            }
        },
    }
}


@router.post("", name="upload", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_BODY)
async def upload_document(
    svc: ServicesDep,
    request: Request,
    account: Annotated[
        int | None,
        Query(description="the account it goes to; needed only by users of several accounts"),
    ] = None,
) -> schemas.Document:
    """Upload a PDF or a .txt list; the content decides what is stored, a name ending in .pdf
    says a PDF was meant, and a bad, empty or too large file is refused and not stored."""
    account_id = await run_in_threadpool(documents.upload_account, svc, account)
    async with request.form(max_files=1, max_fields=0) as form:
        file = form.get("file")
        if not isinstance(file, StarletteUploadFile):
            missing = {"type": "missing", "loc": ("body", "file"), "msg": "Field required"}
            raise RequestValidationError([{**missing, "input": None}])
        # One byte over the limit is enough for the service to refuse it: never read it all.
        data = await file.read(svc.settings.max_document_bytes + 1)
    document = await run_in_threadpool(
        documents.upload_document,
        svc,
        account_id,
        name=file.filename or "",
        data=data,
        size=file.size,
    )
    return schemas.Document.of(document)


@router.get("", name="list")
def list_documents(svc: ServicesDep) -> list[schemas.Document]:
    """The caller's documents, newest first."""
    return [schemas.Document.of(d) for d in documents.list_caller_documents(svc)]


@router.get("/{document}", name="get")
def get_document(svc: ServicesDep, document: int) -> schemas.Document:
    """One of the caller's documents."""
    return schemas.Document.of(documents.caller_document(svc, document))


@router.get(
    "/{document}/content",
    name="content",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/plain": {}}}},
)
def document_content(svc: ServicesDep, document: int) -> Response:
    """The file as it was uploaded."""
    found, data = documents.caller_document_content(svc, document)
    return Response(
        data,
        media_type=found.media_type,
        headers={"Content-Disposition": _attachment(found.name)},
    )


def _attachment(name: str) -> str:
    # RFC 6266: an ASCII fallback for old clients, then the exact name in RFC 5987 encoding.
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
