"""Accounts (the provider's billing accounts, the seed's "groupes"): /telephony."""

from __future__ import annotations

from fastapi import APIRouter, status

from faxcast.api import schemas
from faxcast.api.deps import AccountId, ServicesDep
from faxcast.api.problems import problem_responses
from faxcast.services import accounts

router = APIRouter(prefix="/telephony", tags=["accounts"], responses=problem_responses(422))


@router.get("", name="list")
def list_accounts(svc: ServicesDep) -> list[schemas.Account]:
    """Every account."""
    return [schemas.Account.of(a) for a in accounts.list_accounts(svc)]


@router.post("", name="create", status_code=status.HTTP_201_CREATED)
def create_account(svc: ServicesDep, body: schemas.AccountCreate) -> schemas.Account:
    """A new account; it comes with one sandbox line, so a campaign can be sent at once."""
    return schemas.Account.of(
        accounts.create_account(svc, name=body.name, timezone=body.timezone, language=body.language)
    )


@router.get("/{account}", name="get", responses=problem_responses(404))
def get_account(svc: ServicesDep, account: AccountId) -> schemas.Account:
    """One account."""
    return schemas.Account.of(accounts.get_account(svc, account))


@router.put("/{account}", name="update", responses=problem_responses(403, 404))
def update_account(
    svc: ServicesDep, account: AccountId, body: schemas.AccountUpdate
) -> schemas.Account:
    """Change the account's name, time zone and language (its admins only)."""
    return schemas.Account.of(
        accounts.update_account(
            svc, account, name=body.name, timezone=body.timezone, language=body.language
        )
    )
