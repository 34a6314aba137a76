"""Reading and writing analysis sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mindsync.storage.models import AnalysisMetric, SessionRecord


def add_session(*, db: Session, record: SessionRecord, metrics: Sequence[AnalysisMetric]) -> None:
    """Stage a session and its per-modality metrics in ``db``; the caller commits."""
    db.add(record)
    db.flush()  # the session row must exist before metrics reference it
    db.add_all(metrics)


def get_session(*, db: Session, session_id: str) -> SessionRecord | None:
    """The session with ``session_id``, or ``None``."""
    return db.get(SessionRecord, session_id)


def list_sessions(
    *,
    db: Session,
    user_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[SessionRecord], int]:
    """Sessions matching the filters, newest first, one page of them plus the total count."""
    conditions = []
    if user_id is not None:
        conditions.append(SessionRecord.user_id == user_id)
    if since is not None:
        conditions.append(SessionRecord.timestamp >= since)
    if until is not None:
        conditions.append(SessionRecord.timestamp < until)
    total = db.scalar(select(func.count()).select_from(SessionRecord).where(*conditions)) or 0
    rows = db.scalars(
        select(SessionRecord)
        .where(*conditions)
        .order_by(SessionRecord.timestamp.desc(), SessionRecord.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def count_sessions(*, db: Session) -> int:
    """How many sessions are stored."""
    return int(db.scalar(select(func.count()).select_from(SessionRecord)) or 0)
