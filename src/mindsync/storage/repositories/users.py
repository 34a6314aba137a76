"""What the store knows about a user id."""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from mindsync.storage.models import SessionRecord, UserPreferences


def user_known(*, db: Session, user_id: str) -> bool:
    """True when the store holds preferences or sessions of ``user_id``."""
    query = select(
        or_(
            exists().where(UserPreferences.user_id == user_id),
            exists().where(SessionRecord.user_id == user_id),
        )
    )
    return bool(db.scalar(query))
