"""An account's users and their roles, for its admins: /telephony/{account}/users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from faxcast.api import schemas
from faxcast.api.deps import AccountId, ServicesDep
from faxcast.api.problems import problem_responses
from faxcast.services import users

router = APIRouter(
    prefix="/telephony/{account}/users",
    tags=["users"],
    responses=problem_responses(403, 404, 422),
)

UserId = Annotated[int, Path(description="the user's id")]


@router.get("", name="list")
def list_members(svc: ServicesDep, account: AccountId) -> list[schemas.Member]:
    """The account's users and their roles, by login."""
    return [schemas.Member.of(m) for m in users.list_members(svc, account)]


@router.post("", name="add", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def add_member(
    svc: ServicesDep, account: AccountId, body: schemas.MemberAdd, request: Request
) -> schemas.MemberAdded:
    """Add a user to the account, or give them this role if they are in it (the last admin
    stays one: 409); a new login comes with `setupUrl`, the one-time link where they choose
    their password."""
    member, link = users.add_member(svc, account, body.login, body.role)
    return schemas.MemberAdded.added(member, link, svc.settings.public_url or str(request.base_url))


@router.put("/{user}", name="set_role", responses=problem_responses(409))
def set_role(
    svc: ServicesDep, account: AccountId, user: UserId, body: schemas.MemberRole
) -> schemas.Member:
    """Give the user another role; the account's last admin stays one (409)."""
    return schemas.Member.of(users.change_role(svc, account, user, body.role))


@router.delete(
    "/{user}",
    name="remove",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
)
def remove_member(svc: ServicesDep, account: AccountId, user: UserId) -> Response:
    """Take the user out of the account; the account's last admin stays (409)."""
    users.remove_member(svc, account, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{user}/setup-link", name="setup_link", status_code=status.HTTP_201_CREATED)
def setup_link(
    svc: ServicesDep, account: AccountId, user: UserId, request: Request
) -> schemas.SetupUrl:
    """A new one-time link where the user chooses a password (one who lost theirs)."""
    link = users.new_setup_link(svc, account, user)
    return schemas.SetupUrl.of(link, svc.settings.public_url or str(request.base_url))
