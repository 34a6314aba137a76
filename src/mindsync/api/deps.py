"""Dependencies of the routes, as named types. Routes never build sessions or models themselves."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from mindsync.analysis.fusion import RuleSet
from mindsync.analysis.orchestrator import Orchestrator
from mindsync.api.errors import Gone, NotFound, Unauthorized
from mindsync.core.clock import Clock
from mindsync.core.config import Settings
from mindsync.core.logging import request_id_var
from mindsync.storage.models import SessionRecord
from mindsync.storage.repositories import audit as audit_repo
from mindsync.storage.repositories import tokens as tokens_repo
from mindsync.storage.repositories import users as users_repo
from mindsync.storage.threads import DatabaseThreads

# The getters of app state are ``async``: FastAPI runs a plain ``def`` dependency in a worker
# thread, a hand-off that costs more than the attribute read.


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


async def get_read_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory for work that only reads."""
    factory: sessionmaker[Session] = request.app.state.read_factory
    return factory


async def get_db_threads(request: Request) -> DatabaseThreads:
    """The threads that the app's database calls run on."""
    threads: DatabaseThreads = request.app.state.db_threads
    return threads


def get_db(request: Request) -> Iterator[Session]:
    """A database session for one request, closed afterwards; routes commit explicitly."""
    with request.app.state.session_factory() as session:
        yield session


async def get_orchestrator(request: Request) -> Orchestrator:
    """The orchestrator that runs analysers off the event loop."""
    orchestrator: Orchestrator = request.app.state.orchestrator
    return orchestrator


async def get_rules(request: Request) -> RuleSet:
    """The recommendation rules loaded at start-up."""
    rules: RuleSet = request.app.state.rules
    return rules


async def get_clock(request: Request) -> Clock:
    """The app's clock (replaceable in tests)."""
    clock: Clock = request.app.state.clock
    return clock


@dataclass(frozen=True, slots=True)
class AnalysisDeps:
    """What ``POST /analyze`` takes from the app's state, read in one dependency: FastAPI
    spends about 8 us of the serving process's CPU on each dependency it resolves, and the
    hottest route needed seven of them."""

    settings: Settings
    factory: sessionmaker[Session]
    read_factory: sessionmaker[Session]
    db_threads: DatabaseThreads
    orchestrator: Orchestrator
    rules: RuleSet
    clock: Clock


async def get_analysis_deps(request: Request) -> AnalysisDeps:
    """The app's settings, session factories, database threads, orchestrator, rules and
    clock, as they are now (tests may replace them)."""
    state = request.app.state
    return AnalysisDeps(
        settings=state.settings,
        factory=state.session_factory,
        read_factory=state.read_factory,
        db_threads=state.db_threads,
        orchestrator=state.orchestrator,
        rules=state.rules,
        clock=state.clock,
    )


def _not_found(user_id: str) -> NotFound:
    return NotFound(f"user {user_id} not found", field="user_id")


def refuse_erased(db: Session, user_id: str, settings: Settings) -> None:
    """Raise 410 when ``user_id`` was erased (a tombstone exists)."""
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    if users_repo.is_erased(db=db, user_id=user_id, configured_key=key):
        raise Gone(f"user {user_id} was erased; the id cannot be used again", field="user_id")


def require_known_user(db: Session, user_id: str) -> None:
    """Raise 404 unless the store holds the user, their preferences or their sessions."""
    if not users_repo.user_known(db=db, user_id=user_id):
        raise _not_found(user_id)


@dataclass(frozen=True)
class Access:
    """Who is calling, and the one place that decides whose data they may touch.

    Every read or write of a user's data goes through these methods. A refusal for another
    user's data is a 404, never a 403, so that nobody learns whether it exists.
    """

    kind: Literal["admin", "user", "anonymous"]
    user_id: str | None = None
    allow_anonymous: bool = False

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"user:{self.user_id}" if self.kind == "user" else self.kind

    def require_authenticated(self) -> None:
        """Raise 401 for callers without a valid token."""
        if self.kind == "anonymous":
            raise Unauthorized("a bearer token is required", field="Authorization")

    def require_admin(self) -> None:
        """Raise 401/404 unless the caller is the administrator."""
        self.require_authenticated()
        if self.kind != "admin":
            raise NotFound("not found")

    def user(self, user_id: str) -> str:
        """Return ``user_id`` if the caller may act for that user; raise 401 or 404 otherwise."""
        self.require_authenticated()
        if self.kind == "user" and user_id != self.user_id:
            raise _not_found(user_id)
        return user_id

    def analysis_subject(self, requested: str | None) -> tuple[str | None, bool]:
        """(user the analysis belongs to, whether it may be stored) for ``/analyze``.

        Anonymous results are never stored; an administrator who names no user gets an
        anonymous, unstored result too.
        """
        if self.kind == "anonymous":
            if not self.allow_anonymous:
                raise Unauthorized(
                    "a bearer token is required (anonymous analysis is off)",
                    field="Authorization",
                )
            if requested is not None:
                raise Unauthorized("a token is required to analyse for a user", field="user_id")
            return None, False
        if self.kind == "user":
            if requested is not None and requested != self.user_id:
                raise _not_found(requested)
            return self.user_id, True
        return requested, requested is not None

    def listing_scope(self, user_id: str | None) -> str | None:
        """The user whose sessions the caller may list (``None``: all, administrator only)."""
        self.require_authenticated()
        if self.kind == "user":
            return self.user(user_id) if user_id is not None else self.user_id
        return user_id

    def session(self, record: SessionRecord | None, session_id: str) -> SessionRecord:
        """Return ``record`` if it exists and the caller may read it; raise 404 otherwise."""
        self.require_authenticated()
        missing = NotFound(f"session {session_id} not found", field="session_id")
        if record is None:
            raise missing
        if self.kind == "user" and record.user_id != self.user_id:
            raise missing
        return record

    def audit(
        self, db: Session, *, action: str, target_user_id: str | None, resource: str, now: object
    ) -> None:
        """Record in the audit log that the caller did ``action`` on ``resource``."""
        audit_repo.record(
            db=db,
            actor=self.actor,
            action=action,
            target_user_id=target_user_id,
            resource=resource,
            request_id=request_id_var.get(),
            now=now,  # type: ignore[arg-type]
        )


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or ``None`` when there is none."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise Unauthorized("Authorization must be 'Bearer <token>'", field="Authorization")
    return token


def authenticate(app: Any, token: str | None, header: str | None = None) -> Access:
    """The caller's access from a token (or an ``Authorization`` header); 401 if it is bad."""
    settings: Settings = app.state.settings
    if token is None:
        token = bearer_token(header)
    elif len(token) > 512:
        raise Unauthorized("the token is too long", field="token")
    if token is None:
        return Access(kind="anonymous", allow_anonymous=settings.allow_anonymous)
    admin = settings.admin_token
    if admin is not None and hmac.compare_digest(
        token.encode("utf-8"), admin.get_secret_value().encode("utf-8")
    ):
        return Access(kind="admin")
    with app.state.read_factory() as db:
        user_id = tokens_repo.resolve_token(db=db, token=token, now=app.state.clock())
    if user_id is None:
        raise Unauthorized("the bearer token is unknown or revoked", field="Authorization")
    return Access(kind="user", user_id=user_id)


#: Declares HTTP bearer security in the OpenAPI document (Swagger's Authorize button);
#: the guard (or ``authenticate``) reads the header itself, so that a malformed one is a
#: clear 401.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A user's token (`ms_…`, from `mindsync users create` or `POST /users`), or "
    "the administrator's token (`MINDSYNC_ADMIN_TOKEN`).",
)


async def get_access(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Access:
    """The caller, as the guard middleware verified them before the body was read (falls back
    to authenticating the ``Authorization`` header where no guard ran; 401 for an unknown or
    revoked token)."""
    access = request.scope.get("mindsync.access")
    if isinstance(access, Access):
        return access
    return await run_in_threadpool(
        authenticate, request.app, None, request.headers.get("authorization")
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
ReadFactoryDep = Annotated[sessionmaker[Session], Depends(get_read_factory)]
DatabaseThreadsDep = Annotated[DatabaseThreads, Depends(get_db_threads)]
OrchestratorDep = Annotated[Orchestrator, Depends(get_orchestrator)]
ClockDep = Annotated[Clock, Depends(get_clock)]
RulesDep = Annotated[RuleSet, Depends(get_rules)]
AccessDep = Annotated[Access, Depends(get_access)]
AnalysisDepsDep = Annotated[AnalysisDeps, Depends(get_analysis_deps)]
