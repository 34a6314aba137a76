"""Per-user rolling statistics of derived signals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mindsync.storage.models import UserBaseline

#: (previous (n, mean, var) or None, new value) -> new (n, mean, var)
Updater = Callable[[tuple[int, float, float] | None, float], tuple[int, float, float]]


def get_baselines(*, db: Session, user_id: str) -> dict[str, tuple[int, float, float]]:
    """The user's statistics per signal as ``(n, mean, var)``."""
    rows = db.scalars(select(UserBaseline).where(UserBaseline.user_id == user_id)).all()
    return {row.signal: (row.n, row.mean, row.var) for row in rows}


def update_baselines(
    *,
    db: Session,
    user_id: str,
    signals: Mapping[str, float],
    update: Updater,
    now: datetime,
) -> None:
    """Fold one analysis's ``signals`` into the user's statistics; the caller commits.

    Rows are locked for the update on PostgreSQL (SQLite's writer lock covers it).
    """
    query = select(UserBaseline).where(
        UserBaseline.user_id == user_id, UserBaseline.signal.in_(list(signals))
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    existing = {row.signal: row for row in db.scalars(query).all()}
    for signal, value in signals.items():
        row = existing.get(signal)
        previous = (row.n, row.mean, row.var) if row is not None else None
        n, mean, var = update(previous, value)
        if row is None:
            db.add(
                UserBaseline(
                    user_id=user_id, signal=signal[:64], n=n, mean=mean, var=var, updated_at=now
                )
            )
        else:
            row.n, row.mean, row.var, row.updated_at = n, mean, var, now
