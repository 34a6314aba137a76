"""The audit log: who touched which user's data, and how."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mindsync.storage.models import AuditEvent


def record(
    *,
    db: Session,
    actor: str,
    action: str,
    target_user_id: str | None,
    resource: str,
    request_id: str | None,
    now: datetime,
) -> None:
    """Stage one audit event; the caller commits."""
    db.add(
        AuditEvent(
            created_at=now,
            actor=actor[:136],
            action=action[:32],
            target_user_id=target_user_id,
            resource=resource[:200],
            request_id=(request_id or "")[:64] or None,
        )
    )


def events_for(*, db: Session, user_id: str) -> list[AuditEvent]:
    """Audit events about ``user_id``, oldest first."""
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_user_id == user_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        ).all()
    )
