"""``GET /sessions`` and ``GET /session/{id}``: the stored history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from mindsync.api.deps import AccessDep, ClockDep, DbDep, require_known_user
from mindsync.api.errors import ApiError, error_responses
from mindsync.api.routing import JSONRoute
from mindsync.api.schemas import SessionList, SessionRead, UserId, UtcDatetime
from mindsync.storage.repositories import sessions as sessions_repo

router = APIRouter(tags=["sessions"], route_class=JSONRoute)


@router.get(
    "/sessions",
    response_model=SessionList,
    summary="List stored sessions, newest first",
    responses=error_responses(401, 404, 422, 503),
)
def list_sessions(
    db: DbDep,
    access: AccessDep,
    clock: ClockDep,
    user_id: Annotated[UserId | None, Query(description="Only this user's sessions.")] = None,
    since: Annotated[UtcDatetime | None, Query(description="Sessions at or after.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Sessions before.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SessionList:
    """One page of sessions, newest first, with the total that match the filters."""
    if since is not None and until is not None and since >= until:
        raise ApiError("since must be earlier than until", field="since")
    scope = access.listing_scope(user_id)
    if scope is not None:
        require_known_user(db, scope)
    rows, total = sessions_repo.list_sessions(
        db=db, user_id=scope, since=since, until=until, limit=limit, offset=offset
    )
    access.audit(db, action="read", target_user_id=scope, resource="sessions", now=clock())
    db.commit()
    return SessionList(
        items=[SessionRead.from_record(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/session/{session_id}",
    response_model=SessionRead,
    summary="One stored session",
    responses=error_responses(401, 404, 422, 503),
)
def get_session(session_id: UUID, db: DbDep, access: AccessDep, clock: ClockDep) -> SessionRead:
    """The stored session with this id; 404 when it does not exist or is not yours."""
    record = access.session(
        sessions_repo.get_session(db=db, session_id=str(session_id)), str(session_id)
    )
    view = SessionRead.from_record(record)
    access.audit(
        db,
        action="read",
        target_user_id=record.user_id,
        resource=f"session/{record.id}",
        now=clock(),
    )
    db.commit()
    return view
