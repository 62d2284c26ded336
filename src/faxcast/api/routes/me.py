"""The caller and their API tokens: /me, /me/token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from faxcast.api import schemas
from faxcast.api.deps import ServicesDep
from faxcast.api.problems import problem_responses
from faxcast.services import accounts, tokens

router = APIRouter(prefix="/me", tags=["me"], responses=problem_responses(422))

TokenId = Annotated[int, Path(description="the token's id (not its secret)")]


@router.get("", name="get")
def get_me(svc: ServicesDep) -> schemas.Me:
    """Who the token's user is: their id, login, and accounts with their role in each."""
    return schemas.Me.of(svc.caller, accounts.list_accounts(svc))


@router.get("/token", name="list_tokens")
def list_tokens(svc: ServicesDep) -> list[schemas.Token]:
    """The caller's API tokens, newest first (never their secrets)."""
    return [schemas.Token.of(t) for t in tokens.list_tokens(svc)]


@router.post("/token", name="create_token", status_code=status.HTTP_201_CREATED)
def create_token(svc: ServicesDep, body: schemas.TokenCreate) -> schemas.TokenCreated:
    """A new API token for the caller; its secret is in `token`, shown this once."""
    token, secret = tokens.create_token(svc, body.name, expires_at=body.expires_at)
    return schemas.TokenCreated.created(token, secret)


@router.delete(
    "/token/{token}",
    name="revoke_token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def revoke_token(svc: ServicesDep, token: TokenId) -> Response:
    """Revoke one of the caller's tokens: the next request with it is a 401."""
    tokens.revoke_token(svc, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
