"""SQLAlchemy models: derived results only. No column ever holds an image, audio or samples."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ID_LENGTH = 128


class Base(DeclarativeBase):
    """Declarative base with a naming convention so that migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class SessionRecord(Base):
    """One analysis session: the fused scores and the derived per-modality results."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(USER_ID_LENGTH))
    timestamp: Mapped[datetime]
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    emotion_analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stress_level: Mapped[float | None] = mapped_column(Float)
    attention_score: Mapped[float | None] = mapped_column(Float)
    overall_score: Mapped[float | None] = mapped_column(Float)
    quality_score: Mapped[float | None] = mapped_column(Float)
    processing_time_ms: Mapped[float] = mapped_column(Float)
    recommendations: Mapped[list[Any]] = mapped_column(JSON)
    modalities: Mapped[dict[str, Any]] = mapped_column(JSON)
    modalities_used: Mapped[list[Any]] = mapped_column(JSON)
    modalities_skipped: Mapped[list[Any]] = mapped_column(JSON)
    fusion: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_sessions_user_id_timestamp", "user_id", "timestamp"),
        Index("ix_sessions_timestamp", "timestamp"),
        Index("ix_sessions_created_at", "created_at"),
        Index("ix_sessions_user_id_created_at", "user_id", "created_at"),
    )


class UserPreferences(Base):
    """A user's consent per modality, history choice and retention."""

    __tablename__ = "user_preferences"

    user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), primary_key=True)
    face_enabled: Mapped[bool] = mapped_column(Boolean)
    audio_enabled: Mapped[bool] = mapped_column(Boolean)
    motion_enabled: Mapped[bool] = mapped_column(Boolean)
    face_consent_at: Mapped[datetime | None]
    audio_consent_at: Mapped[datetime | None]
    motion_consent_at: Mapped[datetime | None]
    store_history: Mapped[bool] = mapped_column(Boolean)
    retention_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AnalysisMetric(Base):
    """Per-modality timing and quality of one stored analysis (no values about the person)."""

    __tablename__ = "analysis_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    session_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(String(USER_ID_LENGTH), index=True)
    modality: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    processing_ms: Mapped[float] = mapped_column(Float)
    quality: Mapped[float | None] = mapped_column(Float)


class RequestMetric(Base):
    """One handled API request: route template, status and duration (never a body or a user)."""

    __tablename__ = "request_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))
    status_code: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)


class User(Base):
    """A person who owns data; their id is what ``user_id`` means everywhere else."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApiToken(Base):
    """An API token, stored only as its SHA-256 hash; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(
        String(USER_ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: A random public id (``tok_`` + 8 hex digits) to show instead of the token: no secret.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who read, changed, exported or erased which user's data, and when (never payloads)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(USER_ID_LENGTH + 8))
    action: Mapped[str] = mapped_column(String(32))
    target_user_id: Mapped[str | None] = mapped_column(String(USER_ID_LENGTH), index=True)
    resource: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))


class UserBaseline(Base):
    """Rolling statistics of one derived signal of one user (never raw data)."""

    __tablename__ = "user_baselines"

    user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), primary_key=True)
    signal: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    mean: Mapped[float] = mapped_column(Float)
    var: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]


class MaintenanceRun(Base):
    """When a periodic job last ran, shared by every worker and replica."""

    __tablename__ = "maintenance_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime]
    runs: Mapped[int] = mapped_column(Integer, default=0)


class AuthState(Base):
    """One row: ``generation`` grows with every revocation, rotation and erasure, so that
    every worker's token cache learns within one poll that it must forget."""

    __tablename__ = "auth_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)


class ServerKey(Base):
    """A secret the server generated for itself (the audit-pseudonym key when none is set)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class ErasedUser(Base):
    """A tombstone: the keyed pseudonym of an erased user id (never the id itself)."""

    __tablename__ = "erased_users"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime]
