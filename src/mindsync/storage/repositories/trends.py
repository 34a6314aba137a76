"""Per-bucket averages of the fused scores, computed in SQL on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.orm import Session

from mindsync.storage.models import SessionRecord

Bucket = Literal["hour", "day", "week"]


@dataclass(frozen=True)
class TrendRow:
    """Averages and counts of one time bucket."""

    start: datetime
    sessions: int
    stress_level: float | None
    attention_score: float | None
    overall_score: float | None
    quality_score: float | None


def _bucket_expression(dialect: str, bucket: Bucket) -> ColumnElement[str]:
    ts = SessionRecord.created_at
    if dialect == "postgresql":
        return func.to_char(
            func.date_trunc(bucket, func.timezone("UTC", ts)), "YYYY-MM-DD HH24:MI:SS"
        )
    if bucket == "hour":
        return func.strftime("%Y-%m-%d %H:00:00", ts)
    if bucket == "day":
        return func.strftime("%Y-%m-%d 00:00:00", ts)
    # Weeks start on Monday, as PostgreSQL's date_trunc('week') does.
    return func.strftime(
        "%Y-%m-%d 00:00:00", ts, literal_column("'weekday 0'"), literal_column("'-6 days'")
    )


def trends(
    *, db: Session, user_id: str, since: datetime, until: datetime, bucket: Bucket
) -> list[TrendRow]:
    """Buckets with at least one session received between ``since`` and ``until``, oldest
    first (by the server's clock: a client's timestamp cannot move a session in or out)."""
    start = _bucket_expression(db.get_bind().dialect.name, bucket).label("start")
    rows = db.execute(
        select(
            start,
            func.count(),
            func.avg(SessionRecord.stress_level),
            func.avg(SessionRecord.attention_score),
            func.avg(SessionRecord.overall_score),
            func.avg(SessionRecord.quality_score),
        )
        .where(
            SessionRecord.user_id == user_id,
            SessionRecord.created_at >= since,
            SessionRecord.created_at < until,
        )
        .group_by(start)
        .order_by(start)
    ).all()

    def _avg(value: object) -> float | None:
        return round(float(value), 4) if value is not None else None  # type: ignore[arg-type]

    return [
        TrendRow(
            start=datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC),
            sessions=int(row[1]),
            stress_level=_avg(row[2]),
            attention_score=_avg(row[3]),
            overall_score=_avg(row[4]),
            quality_score=_avg(row[5]),
        )
        for row in rows
    ]
