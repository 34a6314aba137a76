"""Dependencies of the routes, as named types. Routes never build sessions or models themselves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from mindsync.analysis.orchestrator import Orchestrator
from mindsync.analysis.registry import AnalyzerRegistry
from mindsync.api.errors import NotFound
from mindsync.core.clock import Clock
from mindsync.core.config import Settings
from mindsync.storage.models import SessionRecord


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_db(request: Request) -> Iterator[Session]:
    """A database session for one request, closed afterwards; routes commit explicitly."""
    with request.app.state.session_factory() as session:
        yield session


def get_registry(request: Request) -> AnalyzerRegistry:
    """The analysers loaded at start-up."""
    registry: AnalyzerRegistry = request.app.state.registry
    return registry


def get_orchestrator(request: Request) -> Orchestrator:
    """The orchestrator that runs analysers off the event loop."""
    orchestrator: Orchestrator = request.app.state.orchestrator
    return orchestrator


def get_clock(request: Request) -> Clock:
    """The app's clock (replaceable in tests)."""
    clock: Clock = request.app.state.clock
    return clock


@dataclass(frozen=True)
class Access:
    """Who is calling, and the one place that decides whose data they may touch.

    Every read or write of a user's data goes through these methods, so that
    authentication and ownership can be enforced here alone. A refusal is a 404, never a
    403, so that nobody learns whether another user's data exists.
    """

    principal: str | None = None

    def user(self, user_id: str) -> str:
        """Return ``user_id`` if the caller may act for that user; raise 404 otherwise."""
        return user_id

    def listing_scope(self, user_id: str | None) -> str | None:
        """The user whose sessions the caller may list (``None``: all, administrators only)."""
        return user_id

    def session(self, record: SessionRecord | None, session_id: str) -> SessionRecord:
        """Return ``record`` if it exists and the caller may read it; raise 404 otherwise."""
        if record is None:
            raise NotFound(f"session {session_id} not found", field="session_id")
        if record.user_id is not None:
            self.user(record.user_id)
        return record


def get_access(request: Request) -> Access:
    """The caller's access (no authentication yet: every caller acts for the user it names)."""
    return Access()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
RegistryDep = Annotated[AnalyzerRegistry, Depends(get_registry)]
OrchestratorDep = Annotated[Orchestrator, Depends(get_orchestrator)]
ClockDep = Annotated[Clock, Depends(get_clock)]
AccessDep = Annotated[Access, Depends(get_access)]
