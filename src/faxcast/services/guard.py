"""What the services' caller may do in an account: another's is "not found", a member's
refusal of an admin action is "forbidden"."""

from __future__ import annotations

from faxcast.errors import ForbiddenError, NotFoundError
from faxcast.i18n import codes
from faxcast.services.context import Services


def require_member(svc: Services, account_id: int) -> None:
    """NotFoundError unless the account is the caller's."""
    if not svc.caller.may_see(account_id):
        raise NotFoundError(codes.NO_ACCOUNT(account=account_id))


def require_admin(svc: Services, account_id: int) -> None:
    """NotFoundError unless the account is the caller's, ForbiddenError unless they admin it."""
    require_member(svc, account_id)
    if not svc.caller.is_admin_of(account_id):
        raise ForbiddenError(codes.ADMIN_ONLY())
