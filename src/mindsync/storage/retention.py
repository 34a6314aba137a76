"""Retention: deletes sessions past each user's retention, and old metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from mindsync.core.config import Settings
from mindsync.storage.models import AnalysisMetric, RequestMetric, SessionRecord, UserPreferences


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
                SessionRecord.user_id == user_id, SessionRecord.timestamp < cutoff
            )
        ).all()
    default_cutoff = now - timedelta(days=default_retention_days)
    others = or_(SessionRecord.user_id.is_(None), SessionRecord.user_id.not_in(custom_users))
    expired_ids += db.scalars(
        select(SessionRecord.id).where(and_(others, SessionRecord.timestamp < default_cutoff))
    ).all()

    deleted_metrics = 0
    deleted_sessions = 0
    for start in range(0, len(expired_ids), 500):
        chunk = expired_ids[start : start + 500]
        deleted_metrics += db.execute(
            delete(AnalysisMetric).where(AnalysisMetric.session_id.in_(chunk))
        ).rowcount
        deleted_sessions += db.execute(
            delete(SessionRecord).where(SessionRecord.id.in_(chunk))
        ).rowcount
    metrics_cutoff = now - timedelta(days=metrics_retention_days)
    deleted_metrics += db.execute(
        delete(AnalysisMetric).where(AnalysisMetric.created_at < metrics_cutoff)
    ).rowcount
    deleted_requests = db.execute(
        delete(RequestMetric).where(RequestMetric.created_at < metrics_cutoff)
    ).rowcount
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
