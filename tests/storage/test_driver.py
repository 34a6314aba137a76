"""The analysis path's SQLite statements on the driver's cursor store and read exactly what
SQLAlchemy Core stores and reads, inside SQLAlchemy's transaction, with its exceptions."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from mindsync.storage import migrate
from mindsync.storage.driver import driver
from mindsync.storage.engine import create_db_engine
from mindsync.storage.models import SessionRecord, UserPreferences
from mindsync.storage.repositories import baselines as baselines_repo
from mindsync.storage.repositories import preferences as prefs_repo
from mindsync.storage.repositories import sessions as sessions_repo
from mindsync.storage.repositories import users as users_repo

NOW = datetime(2026, 12, 4, 22, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated SQLite database of its own (whatever database the suite runs on)."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _session(user_id: str | None) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "user_id": user_id,
        "timestamp": NOW,
        "created_at": NOW,
        "status": "partial",
        "duration_seconds": None,
        "emotion_analysis": {"dominant": "neutral", "valence": -0.25, "é": "ü"},
        "stress_level": 0.3125,
        "attention_score": None,
        "overall_score": 0.1 + 0.2,
        "quality_score": 0.8,
        "processing_time_ms": 12.345,
        "recommendations": ["Take a short walk", "Breathe slowly: 4 s in, 6 s out"],
        "modalities": {"motion": {"status": "ok", "features": {"windows": 5.0}}},
        "modalities_used": ["motion"],
        "modalities_skipped": [{"modality": "face", "reason": "no consent given"}],
        "fusion": {"assessment": None, "baseline": {"sessions": 3}, "recommendation_details": []},
    }


def _metrics(session: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "created_at": NOW,
            "session_id": session["id"],
            "user_id": session["user_id"],
            "modality": modality,
            "status": "ok",
            "processing_ms": 3.25,
            "quality": quality,
        }
        for modality, quality in (("motion", 0.9), ("voice", None))
    ]


def _stored(path: str, table: str, key: str, value: str) -> list[tuple[Any, ...]]:
    """The row as SQLite holds it (types as stored), read without SQLAlchemy."""
    with sqlite3.connect(path) as raw:
        return raw.execute(f"SELECT * FROM {table} WHERE {key} = ? ORDER BY 1", (value,)).fetchall()


def test_rows_written_on_the_driver_are_stored_as_core_stores_them(
    sqlite_engine: sa.Engine,
) -> None:
    path = str(sqlite_engine.url.database)
    with sqlite_engine.begin() as db:
        db.execute(sa.insert(users_repo._USERS), {"id": "u1", "name": "u1", "created_at": NOW})
    written = {}
    for way in ("core", "driver"):
        session = _session("u1")
        with sqlite_engine.connect() as db:
            if way == "core":
                db.execute(sa.insert(SessionRecord.__table__), [session])
                db.execute(sa.insert(sessions_repo._METRICS), _metrics(session))
            else:
                assert driver(db) is not None
                sessions_repo.add_session_rows(db=db, session=session, metrics=_metrics(session))
            db.commit()
        written[way] = (
            [row[1:] for row in _stored(path, "sessions", "id", session["id"])],
            [  # without the row's own id and the session's (each way has its session)
                row[1:2] + row[3:]
                for row in _stored(path, "analysis_metrics", "session_id", session["id"])
            ],
        )
    assert written["driver"] == written["core"]
    assert written["driver"][0] and len(written["driver"][1]) == 2
    # And the ORM reads it back as it was given.
    with sa.orm.Session(sqlite_engine) as orm:
        record = orm.get(SessionRecord, session["id"])
        assert record is not None
        assert record.emotion_analysis == session["emotion_analysis"]
        assert record.timestamp.replace(tzinfo=UTC) == NOW


def test_reads_on_the_driver_equal_cores(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as db:
        db.execute(sa.insert(users_repo._USERS), {"id": "u1", "name": "u1", "created_at": NOW})
        db.execute(
            sa.insert(UserPreferences.__table__),
            {
                "user_id": "u1",
                "face_enabled": True,
                "audio_enabled": False,
                "motion_enabled": True,
                "face_consent_at": NOW,
                "audio_consent_at": None,
                "motion_consent_at": NOW,
                "store_history": True,
                "retention_days": 30,
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        baselines_repo.update_baselines(
            db=db,
            user_id="u1",
            signals={"stress_level": 0.25, "motion.restlessness": 0.5},
            update=lambda previous, value: (1, value, 0.0),
            now=NOW,
        )
    with sqlite_engine.connect() as db:
        core_prefs = db.execute(prefs_repo._ROW_QUERY, {"user_id": "u1"}).first()
        core_stats = {
            s: (n, m, v) for s, n, m, v in db.execute(baselines_repo._STATS, {"user_id": "u1"})
        }
    with sqlite_engine.connect() as db:
        assert driver(db) is not None
        prefs = prefs_repo.preferences_row(db=db, user_id="u1")
        assert prefs is not None and core_prefs is not None
        assert tuple(prefs) == tuple(core_prefs)
        assert prefs.face_enabled is True and prefs.audio_enabled is False
        assert prefs.face_consent_at == core_prefs.face_consent_at
        assert prefs_repo.preferences_row(db=db, user_id="nobody") is None
        assert baselines_repo.get_baselines(db=db, user_id="u1") == core_stats
        assert users_repo.user_exists(db=db, user_id="u1")
        assert not users_repo.user_exists(db=db, user_id="nobody")


def test_the_transaction_is_sqlalchemys(sqlite_engine: sa.Engine) -> None:
    session = _session(None)
    with sqlite_engine.connect() as db:
        sqlite = driver(db)
        assert sqlite is not None
        # Begun through the engine's begin event: BEGIN IMMEDIATE, the write lock held.
        assert db.in_transaction()
        assert db.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        sessions_repo.add_session_rows(db=db, session=session, metrics=[])
        db.rollback()  # what the connection rolls back is gone
    assert _stored(str(sqlite_engine.url.database), "sessions", "id", session["id"]) == []


def test_errors_are_sqlalchemys(sqlite_engine: sa.Engine) -> None:
    session = _session(None)
    with sqlite_engine.connect() as db:
        sessions_repo.add_session_rows(db=db, session=session, metrics=[])
        db.commit()
    with sqlite_engine.connect() as db, pytest.raises(IntegrityError):
        sessions_repo.add_session_rows(db=db, session=session, metrics=[])
    with sqlite_engine.begin() as db:
        db.exec_driver_sql("DROP TABLE user_baselines")
    with sqlite_engine.connect() as db, pytest.raises(OperationalError, match="user_baselines"):
        baselines_repo.get_baselines(db=db, user_id="u1")


def test_other_databases_and_orm_sessions_keep_core(db_engine: sa.Engine) -> None:
    with sa.orm.Session(db_engine) as orm:
        assert driver(orm) is None
    with db_engine.connect() as db:
        assert (driver(db) is None) == (db_engine.dialect.name != "sqlite")
