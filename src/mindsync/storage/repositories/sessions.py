"""Reading and writing analysis sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from mindsync.storage.driver import driver
from mindsync.storage.models import AnalysisMetric, SessionRecord

# The mapped tables, typed as tables (``__table__`` is typed as any FromClause).
_SESSIONS = SessionRecord.metadata.tables[SessionRecord.__tablename__]
_METRICS = AnalysisMetric.metadata.tables[AnalysisMetric.__tablename__]
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_METRIC = insert(_METRICS)


def add_session_rows(
    *, db: Connection, session: dict[str, Any], metrics: Sequence[dict[str, Any]]
) -> None:
    """Insert a session and its per-modality metrics, given as column values, in ``db``'s
    transaction; the caller commits. A taken id raises ``IntegrityError`` here.

    On SQLite the statements run on the driver's cursor (:mod:`mindsync.storage.driver`)."""
    sqlite = driver(db)
    if sqlite is None:
        db.execute(_INSERT_SESSION, [session])
        if metrics:
            db.execute(_INSERT_METRIC, list(metrics))
        return
    sqlite.insert(_INSERT_SESSION, [session])
    sqlite.insert(_INSERT_METRIC, metrics)


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
