"""API tokens: created at random, stored as SHA-256, shown once, revocable, rotatable and
optionally expiring. Every revocation bumps the shared auth generation so that token caches in
every worker and replica forget what they knew."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mindsync.storage.engine import rowcount
from mindsync.storage.models import ApiToken, AuthState

TOKEN_PREFIX = "ms_"
TOKEN_BYTES = 32
PUBLIC_ID_PREFIX = "tok_"


def hash_token(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def public_id() -> str:
    """A random display id for a token (``tok_`` + 8 hex digits): it reveals nothing secret."""
    return PUBLIC_ID_PREFIX + secrets.token_hex(4)


def issue_token(*, db: Session, user_id: str, now: datetime, ttl_days: float | None = None) -> str:
    """Create a new token for ``user_id`` and return it (the only time it is visible).

    With ``ttl_days`` the token stops working that long after ``now``.
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    db.add(
        ApiToken(
            user_id=user_id,
            token_hash=hash_token(token),
            prefix=public_id(),
            created_at=now,
            revoked_at=None,
            expires_at=now + timedelta(days=ttl_days) if ttl_days else None,
        )
    )
    return token


@dataclass(frozen=True)
class TokenOwner:
    """Who an active token belongs to and until when it works (``None``: no expiry)."""

    user_id: str
    expires_at: datetime | None


def lookup_token(*, db: Session, token_hash: str, now: datetime) -> TokenOwner | None:
    """The owner of the active, unexpired token with this hash, or ``None``."""
    row = db.execute(
        select(ApiToken.user_id, ApiToken.expires_at).where(
            ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    expires_at = row.expires_at
    if expires_at is not None:
        if expires_at.tzinfo is None:  # SQLite returns naive datetimes
            expires_at = expires_at.replace(tzinfo=now.tzinfo)
        if expires_at <= now:
            return None
    return TokenOwner(user_id=row.user_id, expires_at=expires_at)


def resolve_token(*, db: Session, token: str, now: datetime | None = None) -> str | None:
    """The user id that owns an active (and, given ``now``, unexpired) ``token``, or ``None``."""
    if now is None:
        return db.scalar(
            select(ApiToken.user_id).where(
                ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
            )
        )
    owner = lookup_token(db=db, token_hash=hash_token(token), now=now)
    return owner.user_id if owner is not None else None


def auth_generation(*, db: Session) -> int:
    """The shared revocation counter (0 before the first revocation)."""
    return int(db.scalar(select(AuthState.generation).where(AuthState.id == 1)) or 0)


def bump_generation(*, db: Session) -> None:
    """Tell every token cache to forget (in the caller's transaction)."""
    result = db.execute(
        update(AuthState).where(AuthState.id == 1).values(generation=AuthState.generation + 1)
    )
    if not rowcount(result):
        db.add(AuthState(id=1, generation=1))


def revoke_token(*, db: Session, token: str, now: datetime) -> bool:
    """Revoke ``token``; False when no active token matches."""
    result = db.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    bump_generation(db=db)
    return bool(rowcount(result))


def rotate_tokens(
    *, db: Session, user_id: str, now: datetime, ttl_days: float | None = None
) -> str:
    """Revoke every active token of ``user_id`` and return a new one."""
    db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    bump_generation(db=db)
    return issue_token(db=db, user_id=user_id, now=now, ttl_days=ttl_days)
