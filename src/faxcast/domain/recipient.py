"""Recipient states (the seed's "destinataire") and the campaign counts that must always add up."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RecipientState(enum.Enum):
    """Where one number of one campaign stands; it is also the unit of work of the queue."""

    PENDING = "pending"
    IN_CALL = "in_call"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def settled(self) -> bool:
        """Whether nothing more will be tried for this recipient."""
        return self in (RecipientState.DELIVERED, RecipientState.FAILED)


@dataclass(frozen=True)
class Counts:
    """A campaign's recipients by outcome; `todo` is pending plus in a call."""

    total: int
    todo: int
    delivered: int
    failed: int

    def __post_init__(self) -> None:
        # A count that does not add up is a bug in whoever built it, not a user's mistake.
        if min(self.total, self.todo, self.delivered, self.failed) < 0:
            raise ValueError(f"negative recipient count in {self}")
        if self.todo + self.delivered + self.failed != self.total:
            raise ValueError(
                f"recipient counts do not add up: todo {self.todo} + delivered "
                f"{self.delivered} + failed {self.failed} != total {self.total}"
            )

    @property
    def settled(self) -> bool:
        """Whether every recipient was delivered or has failed."""
        return self.todo == 0
