"""API tokens: created at random, stored as SHA-256, shown once, revocable and rotatable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mindsync.storage.models import ApiToken

TOKEN_PREFIX = "ms_"
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(*, db: Session, user_id: str, now: datetime) -> str:
    """Create a new token for ``user_id`` and return it (the only time it is visible)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    db.add(
        ApiToken(
            user_id=user_id,
            token_hash=hash_token(token),
            prefix=token[:12],
            created_at=now,
            revoked_at=None,
        )
    )
    return token


def resolve_token(*, db: Session, token: str) -> str | None:
    """The user id that owns an active ``token``, or ``None``."""
    return db.scalar(
        select(ApiToken.user_id).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )


def revoke_token(*, db: Session, token: str, now: datetime) -> bool:
    """Revoke ``token``; False when no active token matches."""
    result = db.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def rotate_tokens(*, db: Session, user_id: str, now: datetime) -> str:
    """Revoke every active token of ``user_id`` and return a new one."""
    db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return issue_token(db=db, user_id=user_id, now=now)
