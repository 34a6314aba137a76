"""Users: creation, lookup, export of everything held about one, and erasure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from mindsync.storage.models import (
    AnalysisMetric,
    ApiToken,
    AuditEvent,
    SessionRecord,
    User,
    UserBaseline,
    UserPreferences,
)


def user_known(*, db: Session, user_id: str) -> bool:
    """True when the store holds the user, or preferences or sessions of ``user_id``."""
    query = select(
        or_(
            exists().where(User.id == user_id),
            exists().where(UserPreferences.user_id == user_id),
            exists().where(SessionRecord.user_id == user_id),
        )
    )
    return bool(db.scalar(query))


def get_user(*, db: Session, user_id: str) -> User | None:
    """The registered user ``user_id``, or ``None``."""
    return db.get(User, user_id)


def create_user(*, db: Session, user_id: str, name: str, now: datetime) -> User:
    """Stage a new user; the caller commits (an existing id fails at commit)."""
    user = User(id=user_id, name=name, created_at=now)
    db.add(user)
    return user


@dataclass(frozen=True)
class ErasureReport:
    """How many rows of each kind an erasure deleted."""

    sessions: int
    analysis_metrics: int
    preferences: int
    baselines: int
    api_tokens: int
    user: int

    def as_dict(self) -> dict[str, int]:
        """The counts by table."""
        return dict(self.__dict__)


def pseudonym(user_id: str) -> str:
    """What the audit log calls a user after their erasure: a one-way hash of the id."""
    return "erased:" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:24]


#: First key of the per-user advisory locks (PostgreSQL): baseline updates, stores and
#: erasure of one user run one after another.
USER_LOCK_NAMESPACE = 0x6D73_6261  # "msba"


def lock_user(*, db: Session, user_id: str) -> None:
    """Hold the user's lock until ``db``'s transaction ends (PostgreSQL; on SQLite the
    writer lock already serialises every write transaction)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(USER_LOCK_NAMESPACE, func.hashtext(user_id))))


def user_exists(*, db: Session, user_id: str) -> bool:
    """Whether ``user_id`` has an account (it does not after an erasure)."""
    return db.scalar(select(User.id).where(User.id == user_id)) is not None


def erase_user(*, db: Session, user_id: str) -> ErasureReport:
    """Delete every row about ``user_id`` (sessions, metrics, preferences, baselines, tokens,
    the user).

    The caller commits. Audit events stay, to prove what happened, but name the user only
    by :func:`pseudonym` from then on.
    """
    lock_user(db=db, user_id=user_id)  # an analysis storing now finishes first, or finds none
    alias = pseudonym(user_id)
    db.execute(
        update(AuditEvent).where(AuditEvent.target_user_id == user_id).values(target_user_id=alias)
    )
    db.execute(
        update(AuditEvent)
        .where(AuditEvent.actor == f"user:{user_id}")
        .values(actor=f"user:{alias}")
    )
    metrics = db.execute(delete(AnalysisMetric).where(AnalysisMetric.user_id == user_id)).rowcount
    sessions = db.execute(delete(SessionRecord).where(SessionRecord.user_id == user_id)).rowcount
    prefs = db.execute(delete(UserPreferences).where(UserPreferences.user_id == user_id)).rowcount
    baselines = db.execute(delete(UserBaseline).where(UserBaseline.user_id == user_id)).rowcount
    tokens = db.execute(delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount
    users = db.execute(delete(User).where(User.id == user_id)).rowcount
    return ErasureReport(
        sessions=sessions,
        analysis_metrics=metrics,
        preferences=prefs,
        baselines=baselines,
        api_tokens=tokens,
        user=users,
    )


def export_rows(*, db: Session, user_id: str) -> dict[str, Any]:
    """Every stored row about ``user_id``, as ORM objects grouped by kind."""
    return {
        "user": db.get(User, user_id),
        "preferences": db.get(UserPreferences, user_id),
        "sessions": list(
            db.scalars(
                select(SessionRecord)
                .where(SessionRecord.user_id == user_id)
                .order_by(SessionRecord.timestamp)
            ).all()
        ),
        "metrics": list(
            db.scalars(
                select(AnalysisMetric)
                .where(AnalysisMetric.user_id == user_id)
                .order_by(AnalysisMetric.created_at, AnalysisMetric.id)
            ).all()
        ),
        "baselines": list(
            db.scalars(
                select(UserBaseline)
                .where(UserBaseline.user_id == user_id)
                .order_by(UserBaseline.signal)
            ).all()
        ),
        "tokens": list(db.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).all()),
    }
