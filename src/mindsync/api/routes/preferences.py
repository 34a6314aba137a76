"""``POST /preferences`` and ``GET /preferences/{user_id}``."""

from __future__ import annotations

from fastapi import APIRouter

from mindsync.api import services
from mindsync.api.deps import (
    AccessDep,
    ClockDep,
    DbDep,
    SettingsDep,
    refuse_erased,
    require_known_user,
)
from mindsync.api.errors import ApiError, error_responses
from mindsync.api.routing import JSONRoute
from mindsync.api.schemas import PreferencesRead, PreferencesUpdate, UserId
from mindsync.storage.repositories import preferences as prefs_repo

router = APIRouter(tags=["preferences"], route_class=JSONRoute)


@router.post(
    "/preferences",
    response_model=PreferencesRead,
    summary="Create or update a user's preferences",
    responses=error_responses(401, 404, 410, 422, 503),
)
def update_preferences(
    body: PreferencesUpdate, db: DbDep, access: AccessDep, settings: SettingsDep, clock: ClockDep
) -> PreferencesRead:
    """Change the given fields; omitted ones keep their value. Consent times are recorded."""
    if body.user_id is None:
        access.require_authenticated()
        if access.user_id is None:
            raise ApiError("the administrator must name the user", field="user_id")
    user_id = access.user(body.user_id or access.user_id or "")
    refuse_erased(db, user_id, settings)
    changes = body.model_dump(exclude={"user_id"}, exclude_none=True)
    now = clock()
    prefs = prefs_repo.upsert_preferences(
        db=db,
        user_id=user_id,
        changes=changes,
        defaults=services.default_preferences(settings),
        now=now,
    )
    access.audit(db, action="update", target_user_id=user_id, resource="preferences", now=now)
    db.commit()
    return PreferencesRead.model_validate(prefs)


@router.get(
    "/preferences/{user_id}",
    response_model=PreferencesRead,
    summary="A user's preferences",
    responses=error_responses(401, 404, 422, 503),
)
def read_preferences(
    user_id: UserId, db: DbDep, access: AccessDep, settings: SettingsDep, clock: ClockDep
) -> PreferencesRead:
    """The user's stored preferences, or the defaults (``is_default: true``) for a user who
    has sessions but never set preferences; 404 for a user the service does not know."""
    user_id = access.user(user_id)
    stored = prefs_repo.get_preferences(db=db, user_id=user_id)
    if stored is None:
        require_known_user(db, user_id)
    view = services.effective_preferences(stored, user_id=user_id, settings=settings)
    access.audit(db, action="read", target_user_id=user_id, resource="preferences", now=clock())
    db.commit()
    return view
