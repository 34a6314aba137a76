"""Request and analysis metrics behind ``/stats``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mindsync.storage.models import AnalysisMetric, RequestMetric

LATENCY_WINDOW_ROWS = 10_000


@dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles of one modality over its most recent analyses."""

    count: int
    p50_ms: float | None
    p95_ms: float | None
    mean_quality: float | None


def record_request(
    *, db: Session, method: str, route: str, status_code: int, duration_ms: float, now: datetime
) -> None:
    """Stage one request metric; the caller commits."""
    db.add(
        RequestMetric(
            created_at=now,
            method=method[:8],
            route=route[:200],
            status_code=status_code,
            duration_ms=duration_ms,
        )
    )


def request_counts(*, db: Session, since: datetime | None = None) -> tuple[int, int, int]:
    """(requests, client errors 4xx, server errors 5xx) recorded since ``since``."""
    conditions = [RequestMetric.created_at >= since] if since is not None else []
    row = db.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(case((RequestMetric.status_code.between(400, 499), 1), else_=0)), 0
            ),
            func.coalesce(func.sum(case((RequestMetric.status_code >= 500, 1), else_=0)), 0),
        ).where(*conditions)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def requests_by_route(*, db: Session, since: datetime | None = None) -> dict[str, int]:
    """Request counts per ``METHOD route``."""
    conditions = [RequestMetric.created_at >= since] if since is not None else []
    rows = db.execute(
        select(RequestMetric.method, RequestMetric.route, func.count())
        .where(*conditions)
        .group_by(RequestMetric.method, RequestMetric.route)
    ).all()
    return {f"{method} {route}": int(n) for method, route, n in rows}


def modality_latencies(*, db: Session, since: datetime | None = None) -> dict[str, LatencySummary]:
    """Per modality: count and p50/p95 of processing time over its most recent analyses."""
    out: dict[str, LatencySummary] = {}
    conditions = [AnalysisMetric.created_at >= since] if since is not None else []
    modalities = db.scalars(select(AnalysisMetric.modality).where(*conditions).distinct()).all()
    for modality in sorted(modalities):
        rows = db.execute(
            select(AnalysisMetric.processing_ms, AnalysisMetric.quality)
            .where(AnalysisMetric.modality == modality, *conditions)
            .order_by(AnalysisMetric.created_at.desc())
            .limit(LATENCY_WINDOW_ROWS)
        ).all()
        times = np.array([r[0] for r in rows], dtype=float)
        qualities = [r[1] for r in rows if r[1] is not None]
        count = db.scalar(
            select(func.count())
            .select_from(AnalysisMetric)
            .where(AnalysisMetric.modality == modality, *conditions)
        )
        out[modality] = LatencySummary(
            count=int(count or 0),
            p50_ms=round(float(np.percentile(times, 50)), 3) if times.size else None,
            p95_ms=round(float(np.percentile(times, 95)), 3) if times.size else None,
            mean_quality=round(float(np.mean(qualities)), 4) if qualities else None,
        )
    return out
