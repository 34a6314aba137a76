"""Users, tokens and privacy rights: create, rotate, export everything, erase everything."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.exc import IntegrityError

from mindsync.api import services
from mindsync.api.deps import (
    AccessDep,
    ClockDep,
    DbDep,
    SettingsDep,
    refuse_erased,
    require_known_user,
)
from mindsync.api.errors import Conflict, NotFound, error_responses
from mindsync.api.routing import JSONRoute
from mindsync.api.schemas import (
    AuditEventRead,
    ErasureResponse,
    MeResponse,
    MetricRead,
    PreferencesRead,
    SessionRead,
    TokenIssued,
    TokenRead,
    TrendBucket,
    TrendsResponse,
    UserCreate,
    UserCreated,
    UserExport,
    UserId,
)
from mindsync.storage.engine import checkpoint_sqlite
from mindsync.storage.repositories import audit as audit_repo
from mindsync.storage.repositories import preferences as prefs_repo
from mindsync.storage.repositories import tokens as tokens_repo
from mindsync.storage.repositories import trends as trends_repo
from mindsync.storage.repositories import users as users_repo

router = APIRouter(tags=["users and privacy"], route_class=JSONRoute)


@router.post(
    "/users",
    response_model=UserCreated,
    status_code=201,
    summary="Create a user and their first token (administrator)",
    responses=error_responses(401, 404, 409, 410, 422),
)
def create_user(
    body: UserCreate, db: DbDep, access: AccessDep, clock: ClockDep, settings: SettingsDep
) -> UserCreated:
    """Register a user; the response holds their token, which is never shown again.

    ``consent`` records the modalities the user has explicitly agreed to (for example on a
    sign-up form); without it nothing is analysed until the user consents.
    """
    access.require_admin()
    now = clock()
    user_id = body.user_id or uuid.uuid4().hex
    refuse_erased(db, user_id, settings)
    if users_repo.get_user(db=db, user_id=user_id) is not None:
        raise Conflict(f"user {user_id} already exists", field="user_id")
    user = users_repo.create_user(db=db, user_id=user_id, name=body.name, now=now)
    db.flush()
    token = tokens_repo.issue_token(
        db=db, user_id=user_id, now=now, ttl_days=settings.token_ttl_days
    )
    access.audit(db, action="create", target_user_id=user_id, resource="user", now=now)
    consent = sorted(set(body.consent), key=body.consent.index)
    if consent:
        prefs_repo.upsert_preferences(
            db=db,
            user_id=user_id,
            changes=services.consent_changes(consent),
            defaults=services.default_preferences(settings),
            now=now,
        )
    try:
        db.commit()
    except IntegrityError:
        raise Conflict(f"user {user_id} already exists", field="user_id") from None
    return UserCreated(
        user_id=user.id, name=user.name, created_at=now, token=token, consent=consent
    )


@router.get(
    "/me",
    response_model=MeResponse,
    summary="Who the bearer token belongs to",
    responses=error_responses(401),
)
def me(db: DbDep, access: AccessDep) -> MeResponse:
    """The caller's kind (user or administrator), user id and name."""
    access.require_authenticated()
    if access.kind == "admin":
        return MeResponse(kind="admin")
    assert access.user_id is not None
    user = users_repo.get_user(db=db, user_id=access.user_id)
    return MeResponse(
        kind="user", user_id=access.user_id, name=user.name if user is not None else None
    )


@router.post(
    "/users/{user_id}/tokens",
    response_model=TokenIssued,
    status_code=201,
    summary="Rotate a user's token: revoke all, issue one",
    responses=error_responses(401, 404, 422),
)
def rotate_token(
    request: Request,
    user_id: UserId,
    db: DbDep,
    access: AccessDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> TokenIssued:
    """Revoke every token of the user and return a new one (shown once)."""
    access.user(user_id)
    if users_repo.get_user(db=db, user_id=user_id) is None:
        raise NotFound(f"user {user_id} not found", field="user_id")
    now = clock()
    token = tokens_repo.rotate_tokens(
        db=db, user_id=user_id, now=now, ttl_days=settings.token_ttl_days
    )
    access.audit(db, action="rotate_token", target_user_id=user_id, resource="tokens", now=now)
    db.commit()
    request.app.state.token_cache.clear()  # other workers learn it within one poll
    return TokenIssued(user_id=user_id, token=token)


@router.get(
    "/users/{user_id}/export",
    response_model=UserExport,
    summary="Everything held about a user, as JSON",
    responses=error_responses(401, 404, 422),
)
def export_user(user_id: UserId, db: DbDep, access: AccessDep, clock: ClockDep) -> UserExport:
    """All derived data about the user: sessions, preferences, baselines, metrics, audit."""
    access.user(user_id)
    require_known_user(db, user_id)
    now = clock()
    access.audit(db, action="export", target_user_id=user_id, resource="user", now=now)
    db.flush()
    rows = users_repo.export_rows(db=db, user_id=user_id)
    user = rows["user"]
    export = UserExport(
        user_id=user_id,
        exported_at=now,
        user={"user_id": user.id, "name": user.name, "created_at": user.created_at}
        if user is not None
        else None,
        preferences=PreferencesRead.model_validate(rows["preferences"])
        if rows["preferences"] is not None
        else None,
        sessions=[SessionRead.from_record(r) for r in rows["sessions"]],
        metrics=[MetricRead.model_validate(m) for m in rows["metrics"]],
        tokens=[TokenRead.model_validate(t) for t in rows["tokens"]],
        baselines={
            b.signal: {"n": b.n, "mean": b.mean, "sd": b.var**0.5, "updated_at": b.updated_at}
            for b in rows["baselines"]
        },
        audit=[
            AuditEventRead.model_validate(e) for e in audit_repo.events_for(db=db, user_id=user_id)
        ],
    )
    db.commit()
    return export


@router.get(
    "/users/{user_id}/trends",
    response_model=TrendsResponse,
    summary="A user's fused scores per hour, day or week",
    responses=error_responses(401, 404, 422),
)
def user_trends(
    user_id: UserId,
    db: DbDep,
    access: AccessDep,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=3650, description="How far back.")] = 30,
    bucket: Annotated[Literal["hour", "day", "week"], Query()] = "day",
) -> TrendsResponse:
    """Per-bucket averages and counts of the stored fused scores, computed in SQL."""
    access.user(user_id)
    require_known_user(db, user_id)
    until = clock()
    since = until - timedelta(days=days)
    rows = trends_repo.trends(db=db, user_id=user_id, since=since, until=until, bucket=bucket)
    access.audit(db, action="read", target_user_id=user_id, resource="trends", now=until)
    db.commit()
    return TrendsResponse(
        user_id=user_id,
        days=days,
        bucket=bucket,
        since=since,
        until=until,
        buckets=[TrendBucket(**row.__dict__) for row in rows],
    )


@router.delete(
    "/users/{user_id}",
    response_model=ErasureResponse,
    summary="Erase everything held about a user",
    responses=error_responses(401, 404, 422),
)
def erase_user(
    request: Request,
    user_id: UserId,
    db: DbDep,
    access: AccessDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ErasureResponse:
    """Delete the user's sessions, metrics, preferences, tokens and account; say how many.

    The audit log keeps the record of what happened, naming the user only by a keyed hash
    (HMAC) and their sessions by no id. A tombstone keeps the id from coming back (410).
    """
    access.user(user_id)
    require_known_user(db, user_id)
    now = clock()
    access.audit(db, action="erase", target_user_id=user_id, resource="user", now=now)
    db.flush()
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    report = users_repo.erase_user(db=db, user_id=user_id, now=now, configured_key=key)
    db.commit()
    request.app.state.token_cache.clear()
    # Deleted pages live on in the WAL until a checkpoint; secure_delete zeroes the rest.
    checkpoint_sqlite(db.get_bind())  # type: ignore[arg-type]
    # PostgreSQL: rewrite the touched tables so the deleted rows leave the table files.
    users_repo.compact_after_erasure(db.get_bind())  # type: ignore[arg-type]
    return ErasureResponse(user_id=user_id, deleted=report.as_dict())
