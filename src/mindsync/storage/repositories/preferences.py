"""Reading and writing user preferences (consent, history, retention)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from mindsync.storage.driver import driver
from mindsync.storage.models import UserPreferences

_TABLE = UserPreferences.metadata.tables[UserPreferences.__tablename__]
_ROW_QUERY = select(_TABLE).where(_TABLE.c.user_id == bindparam("user_id"))

CONSENT_FIELDS = {
    "face_enabled": "face_consent_at",
    "audio_enabled": "audio_consent_at",
    "motion_enabled": "motion_consent_at",
}


def get_preferences(*, db: Session, user_id: str) -> UserPreferences | None:
    """The stored preferences of ``user_id``, or ``None`` when the user never set any."""
    return db.get(UserPreferences, user_id)


def preferences_row(*, db: Connection, user_id: str) -> Row[Any] | Any | None:
    """The stored preferences of ``user_id`` as a row (attributes named as the columns, as
    :class:`UserPreferences` has), or ``None``: the analysis path's read, without the ORM
    (on SQLite on the driver's cursor: :mod:`mindsync.storage.driver`)."""
    sqlite = driver(db)
    if sqlite is not None:
        rows = sqlite.rows(_ROW_QUERY, {"user_id": user_id})
        return rows[0] if rows else None
    return db.execute(_ROW_QUERY, {"user_id": user_id}).first()


def upsert_preferences(
    *, db: Session, user_id: str, changes: dict[str, Any], defaults: dict[str, Any], now: datetime
) -> UserPreferences:
    """Create or update the preferences of ``user_id`` with ``changes``; the caller commits.

    Fields not in ``changes`` keep their stored value (or ``defaults`` for a new user).
    Each modality's consent time is set whenever its flag is given.
    """
    prefs = db.get(UserPreferences, user_id)
    if prefs is None:
        prefs = UserPreferences(user_id=user_id, created_at=now, **defaults)
        db.add(prefs)
    for name, value in changes.items():
        setattr(prefs, name, value)
        consent_field = CONSENT_FIELDS.get(name)
        if consent_field is not None:
            setattr(prefs, consent_field, now)
    prefs.updated_at = now
    return prefs
