"""Retention: deletes sessions past each user's retention, and old metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from mindsync.core.config import Settings
from mindsync.storage.engine import rowcount
from mindsync.storage.models import (
    AnalysisMetric,
    MaintenanceRun,
    RequestMetric,
    SessionRecord,
    UserPreferences,
)


@dataclass(frozen=True)
class RetentionReport:
    """How many rows one retention run deleted."""

    sessions: int
    analysis_metrics: int
    request_metrics: int


def run_retention(
    *, db: Session, now: datetime, default_retention_days: int, metrics_retention_days: int
) -> RetentionReport:
    """Delete everything past its retention as of ``now``; the caller commits.

    Ages are counted from when the server received a session (``created_at``), never from the
    client's ``timestamp``: nothing acknowledged goes before its retention has passed.
    A user with preferences keeps sessions for their ``retention_days``; everyone else
    (including anonymous sessions) for ``default_retention_days``. Metrics of deleted
    sessions go with them; other metrics are kept ``metrics_retention_days``.
    """
    expired_ids: list[str] = []
    per_user = db.execute(select(UserPreferences.user_id, UserPreferences.retention_days)).all()
    custom_users = [user_id for user_id, _ in per_user]
    for user_id, days in per_user:
        cutoff = now - timedelta(days=days)
        expired_ids += db.scalars(
            select(SessionRecord.id).where(
                SessionRecord.user_id == user_id, SessionRecord.created_at < cutoff
            )
        ).all()
    default_cutoff = now - timedelta(days=default_retention_days)
    others = or_(SessionRecord.user_id.is_(None), SessionRecord.user_id.not_in(custom_users))
    expired_ids += db.scalars(
        select(SessionRecord.id).where(and_(others, SessionRecord.created_at < default_cutoff))
    ).all()

    deleted_metrics = 0
    deleted_sessions = 0
    for start in range(0, len(expired_ids), 500):
        chunk = expired_ids[start : start + 500]
        deleted_metrics += rowcount(
            db.execute(delete(AnalysisMetric).where(AnalysisMetric.session_id.in_(chunk)))
        )
        deleted_sessions += rowcount(
            db.execute(delete(SessionRecord).where(SessionRecord.id.in_(chunk)))
        )
    metrics_cutoff = now - timedelta(days=metrics_retention_days)
    deleted_metrics += rowcount(
        db.execute(delete(AnalysisMetric).where(AnalysisMetric.created_at < metrics_cutoff))
    )
    deleted_requests = rowcount(
        db.execute(delete(RequestMetric).where(RequestMetric.created_at < metrics_cutoff))
    )
    return RetentionReport(
        sessions=deleted_sessions,
        analysis_metrics=deleted_metrics,
        request_metrics=deleted_requests,
    )


def run_retention_once(
    factory: sessionmaker[Session], settings: Settings, now: datetime
) -> RetentionReport:
    """Run retention in its own transaction with the limits from ``settings``."""
    with factory() as db:
        report = run_retention(
            db=db,
            now=now,
            default_retention_days=settings.default_retention_days,
            metrics_retention_days=settings.metrics_retention_days,
        )
        db.commit()
    return report


RETENTION_JOB = "retention"
#: Any constant shared by all replicas: the key of the PostgreSQL advisory lock.
RETENTION_LOCK_KEY = 0x6D696E6473796E63  # "mindsync"


def claim_run(db: Session, *, job: str, now: datetime, interval_seconds: float) -> bool:
    """Claim this interval's run of ``job``; True for exactly one caller per interval.

    On PostgreSQL an advisory lock serialises the claim across replicas; on SQLite the
    writer lock (BEGIN IMMEDIATE) does. The caller commits.
    """
    if db.get_bind().dialect.name == "postgresql":
        locked = db.execute(select(func.pg_try_advisory_xact_lock(RETENTION_LOCK_KEY))).scalar_one()
        if not locked:
            return False
    due_before = now - timedelta(seconds=interval_seconds * 0.9)
    row = db.get(MaintenanceRun, job)
    if row is None:
        db.add(MaintenanceRun(job=job, last_run_at=now, runs=1))
        db.flush()
        return True
    last = row.last_run_at if row.last_run_at.tzinfo else row.last_run_at.replace(tzinfo=UTC)
    if last > due_before:
        return False
    row.last_run_at = now
    row.runs += 1
    return True


def run_retention_if_due(
    factory: sessionmaker[Session], settings: Settings, now: datetime
) -> RetentionReport | None:
    """Run retention unless another worker or replica already ran it in this interval."""
    with factory() as db:
        if not claim_run(
            db, job=RETENTION_JOB, now=now, interval_seconds=settings.retention_interval_seconds
        ):
            db.rollback()
            return None
        report = run_retention(
            db=db,
            now=now,
            default_retention_days=settings.default_retention_days,
            metrics_retention_days=settings.metrics_retention_days,
        )
        db.commit()
    return report
