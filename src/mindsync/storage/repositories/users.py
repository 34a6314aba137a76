"""Users: creation, lookup, export of everything held about one, and erasure."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from mindsync.core.clock import utcnow
from mindsync.storage.driver import driver
from mindsync.storage.engine import rowcount
from mindsync.storage.models import (
    AnalysisMetric,
    ApiToken,
    AuditEvent,
    ErasedUser,
    ServerKey,
    SessionRecord,
    User,
    UserBaseline,
    UserPreferences,
)
from mindsync.storage.repositories import tokens as tokens_repo


def user_known(*, db: Session, user_id: str) -> bool:
    """True when the store holds the user, or preferences or sessions of ``user_id``."""
    query = select(
        or_(
            exists().where(User.id == user_id),
            exists().where(UserPreferences.user_id == user_id),
            exists().where(SessionRecord.user_id == user_id),
        )
    )
    return bool(db.scalar(query))


def get_user(*, db: Session, user_id: str) -> User | None:
    """The registered user ``user_id``, or ``None``."""
    return db.get(User, user_id)


def create_user(*, db: Session, user_id: str, name: str, now: datetime) -> User:
    """Stage a new user; the caller commits (an existing id fails at commit)."""
    user = User(id=user_id, name=name, created_at=now)
    db.add(user)
    return user


@dataclass(frozen=True)
class ErasureReport:
    """How many rows of each kind an erasure deleted."""

    sessions: int
    analysis_metrics: int
    preferences: int
    baselines: int
    api_tokens: int
    user: int

    def as_dict(self) -> dict[str, int]:
        """The counts by table."""
        return dict(self.__dict__)


logger = logging.getLogger(__name__)

PSEUDONYM_KEY_NAME = "audit_pseudonym"


#: The generated pseudonym key per engine, once read: it is created once and never changes,
#: so every analysis need not read it again (two queries a request). Only a key read from the
#: database is kept, never "none yet": another process may create it at any time.
_KNOWN_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


#: What the analysis path's reads and writes run on: an ORM session, or a Core connection
#: (the hot path uses the latter: a statement costs about half as much CPU without the ORM).
Database = Session | Connection

_KEY_QUERY = select(ServerKey.value).where(ServerKey.name == PSEUDONYM_KEY_NAME)
_SERVER_KEYS = ServerKey.metadata.tables[ServerKey.__tablename__]
_TOMBSTONES = ErasedUser.metadata.tables[ErasedUser.__tablename__]
_USERS = User.metadata.tables[User.__tablename__]
# Built once: building a statement costs more CPU than running it on SQLite.
_TOMBSTONE_QUERY = select(_TOMBSTONES.c.pseudonym).where(
    _TOMBSTONES.c.pseudonym == bindparam("digest")
)
_USER_QUERY = select(_USERS.c.id).where(_USERS.c.id == bindparam("user_id"))


def _engine(db: Database) -> Engine | None:
    if isinstance(db, Connection):
        return db.engine
    bind = db.get_bind()
    return bind if isinstance(bind, Engine) else None


def dialect_name(db: Database) -> str:
    """The name of the database ``db`` talks to (``sqlite``, ``postgresql``)."""
    return db.dialect.name if isinstance(db, Connection) else db.get_bind().dialect.name


def _key(*, db: Database, configured: str | None, create: bool) -> bytes | None:
    """The pseudonym key: the configured one, else the one the server generated and keeps in
    ``server_keys`` (created here, in the caller's transaction, when ``create``)."""
    if configured:
        return configured.encode("utf-8")
    engine = _engine(db)
    known = _KNOWN_KEYS.get(engine) if engine is not None else None
    if known is not None:
        return known.encode("utf-8")
    value = db.scalar(_KEY_QUERY)
    if value is None and create:
        value = secrets.token_hex(32)
        db.execute(
            insert(_SERVER_KEYS).values(name=PSEUDONYM_KEY_NAME, value=value, created_at=utcnow())
        )
    elif value is not None and engine is not None and not create:
        _KNOWN_KEYS[engine] = value  # committed by whoever created it (not this transaction)
    return value.encode("utf-8") if value is not None else None


def _digest(user_id: str, key: bytes) -> str:
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym(user_id: str, key: bytes) -> str:
    """What the audit log calls a user after their erasure: an HMAC of the id under a server
    secret, so that nobody without the key can re-link it by hashing guessed ids."""
    return "erased:" + _digest(user_id, key)[:32]


def audit_pseudonym(*, db: Database, user_id: str, configured: str | None = None) -> str | None:
    """The pseudonym of ``user_id`` with this server's key (``None`` before any erasure)."""
    key = _key(db=db, configured=configured, create=False)
    return pseudonym(user_id, key) if key is not None else None


def is_erased(*, db: Database, user_id: str, configured_key: str | None = None) -> bool:
    """Whether ``user_id`` was erased (its tombstone exists): it may not come back."""
    key = _key(db=db, configured=configured_key, create=False)
    if key is None:
        return False
    return db.scalar(_TOMBSTONE_QUERY, {"digest": _digest(user_id, key)}) is not None


#: First key of the per-user advisory locks (PostgreSQL): baseline updates, stores and
#: erasure of one user run one after another.
USER_LOCK_NAMESPACE = 0x6D73_6261  # "msba"


# Built once: SQLAlchemy then finds the compiled statement by its cache key at once.
_LOCK_USER = select(
    func.pg_advisory_xact_lock(USER_LOCK_NAMESPACE, func.hashtext(bindparam("user_id")))
)


def lock_user(*, db: Database, user_id: str) -> None:
    """Hold the user's lock until ``db``'s transaction ends (PostgreSQL; on SQLite the
    writer lock already serialises every write transaction)."""
    if dialect_name(db) == "postgresql":
        db.execute(_LOCK_USER, {"user_id": user_id})


def user_exists(*, db: Database, user_id: str) -> bool:
    """Whether ``user_id`` has an account (it does not after an erasure)."""
    sqlite = driver(db)
    if sqlite is not None:  # on the driver's cursor: mindsync.storage.driver
        return bool(sqlite.rows(_USER_QUERY, {"user_id": user_id}))
    return db.scalar(_USER_QUERY, {"user_id": user_id}) is not None


def erase_user(
    *, db: Session, user_id: str, now: datetime | None = None, configured_key: str | None = None
) -> ErasureReport:
    """Delete every row about ``user_id`` (sessions, metrics, preferences, baselines, tokens,
    the user) and leave a tombstone so that no side effect brings the id back.

    The caller commits. Audit events stay, to prove what happened, but name the user only
    by :func:`pseudonym` from then on, and name their sessions by no id at all.
    """
    lock_user(db=db, user_id=user_id)  # an analysis storing now finishes first, or finds none
    key = _key(db=db, configured=configured_key, create=True)
    assert key is not None
    alias = pseudonym(user_id, key)
    session_ids = set(
        db.scalars(select(SessionRecord.id).where(SessionRecord.user_id == user_id)).all()
    )
    session_resources = [f"session/{sid}" for sid in session_ids]
    for start in range(0, len(session_resources), 500):
        db.execute(
            update(AuditEvent)
            .where(AuditEvent.resource.in_(session_resources[start : start + 500]))
            .values(resource="session/erased")
        )
    db.execute(
        update(AuditEvent)
        .where(AuditEvent.target_user_id == user_id, AuditEvent.resource.like("session/%"))
        .values(resource="session/erased")
    )
    db.execute(
        update(AuditEvent).where(AuditEvent.target_user_id == user_id).values(target_user_id=alias)
    )
    db.execute(
        update(AuditEvent)
        .where(AuditEvent.actor == f"user:{user_id}")
        .values(actor=f"user:{alias}")
    )
    metrics = rowcount(db.execute(delete(AnalysisMetric).where(AnalysisMetric.user_id == user_id)))
    sessions = rowcount(db.execute(delete(SessionRecord).where(SessionRecord.user_id == user_id)))
    prefs = rowcount(db.execute(delete(UserPreferences).where(UserPreferences.user_id == user_id)))
    baselines = rowcount(db.execute(delete(UserBaseline).where(UserBaseline.user_id == user_id)))
    tokens = rowcount(db.execute(delete(ApiToken).where(ApiToken.user_id == user_id)))
    tokens_repo.bump_generation(db=db)  # every worker's token cache forgets the user's tokens
    users = rowcount(db.execute(delete(User).where(User.id == user_id)))
    digest = _digest(user_id, key)
    if db.get(ErasedUser, digest) is None:
        db.add(ErasedUser(pseudonym=digest, erased_at=now or utcnow()))
    return ErasureReport(
        sessions=sessions,
        analysis_metrics=metrics,
        preferences=prefs,
        baselines=baselines,
        api_tokens=tokens,
        user=users,
    )


#: Tables an erasure writes to: VACUUM FULL rewrites them on PostgreSQL afterwards.
ERASURE_TABLES = (
    "sessions",
    "analysis_metrics",
    "user_preferences",
    "user_baselines",
    "api_tokens",
    "users",
    "audit_log",
)


def compact_after_erasure(engine: Engine) -> None:
    """PostgreSQL: rewrite the tables an erasure touched (``VACUUM FULL``), so that the
    deleted rows' bytes leave the table files. It takes each table's exclusive lock for the
    rewrite (seconds per GB). WAL segments and backups still hold the old bytes until they
    are recycled: see SECURITY.md. SQLite needs nothing (``secure_delete`` zeroes pages; the
    caller checkpoints the WAL)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        try:
            for table in ERASURE_TABLES:
                connection.execute(text(f"VACUUM FULL {table}"))
        except Exception as exc:  # the erasure itself is committed: this is best effort
            logger.warning("VACUUM FULL after an erasure failed: %s", type(exc).__name__)
            return
        try:  # flush the rewritten files now (needs superuser or pg_checkpoint)
            connection.execute(text("CHECKPOINT"))
        except Exception as exc:
            logger.info("no CHECKPOINT after an erasure: %s", type(exc).__name__)


def export_rows(*, db: Session, user_id: str) -> dict[str, Any]:
    """Every stored row about ``user_id``, as ORM objects grouped by kind."""
    return {
        "user": db.get(User, user_id),
        "preferences": db.get(UserPreferences, user_id),
        "sessions": list(
            db.scalars(
                select(SessionRecord)
                .where(SessionRecord.user_id == user_id)
                .order_by(SessionRecord.timestamp)
            ).all()
        ),
        "metrics": list(
            db.scalars(
                select(AnalysisMetric)
                .where(AnalysisMetric.user_id == user_id)
                .order_by(AnalysisMetric.created_at, AnalysisMetric.id)
            ).all()
        ),
        "baselines": list(
            db.scalars(
                select(UserBaseline)
                .where(UserBaseline.user_id == user_id)
                .order_by(UserBaseline.signal)
            ).all()
        ),
        "tokens": list(db.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).all()),
    }
