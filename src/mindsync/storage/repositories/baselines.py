"""Per-user rolling statistics of derived signals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy import update as sql_update

from mindsync.storage.driver import driver
from mindsync.storage.models import UserBaseline
from mindsync.storage.repositories import users as users_repo
from mindsync.storage.repositories.users import Database

#: (previous (n, mean, var) or None, new value) -> new (n, mean, var)
Updater = Callable[[tuple[int, float, float] | None, float], tuple[int, float, float]]


# The Core table (typed ``Table``, which ``UserBaseline.__table__`` is not to the type checker).
_TABLE = UserBaseline.metadata.tables[UserBaseline.__tablename__]


_STATS = select(_TABLE.c.signal, _TABLE.c.n, _TABLE.c.mean, _TABLE.c.var).where(
    _TABLE.c.user_id == bindparam("user_id")
)


def get_baselines(*, db: Database, user_id: str) -> dict[str, tuple[int, float, float]]:
    """The user's statistics per signal as ``(n, mean, var)``."""
    return {signal: (n, mean, var) for signal, n, mean, var in _stats(db, user_id)}


def _stats(db: Database, user_id: str) -> Iterable[Any]:
    sqlite = driver(db)
    if sqlite is not None:  # on the driver's cursor: mindsync.storage.driver
        return sqlite.rows(_STATS, {"user_id": user_id})
    return db.execute(_STATS, {"user_id": user_id})


_INSERT = insert(_TABLE)
_UPDATE = (
    sql_update(_TABLE)
    .where(_TABLE.c.user_id == bindparam("b_user"), _TABLE.c.signal == bindparam("b_signal"))
    .values(
        n=bindparam("n"), mean=bindparam("mean"), var=bindparam("var"), updated_at=bindparam("at")
    )
)


def update_baselines(
    *,
    db: Database,
    user_id: str,
    signals: Mapping[str, float],
    update: Updater,
    now: datetime,
    locked: bool = False,
) -> None:
    """Fold one analysis's ``signals`` into the user's statistics; the caller commits.

    Concurrent updates of one user's baseline run one after another: on PostgreSQL under
    a transaction-scoped advisory lock per user (row locks alone deadlocked, and two
    first analyses raced to insert the same rows), on SQLite under its writer lock.
    ``locked``: the caller already holds the user's lock in this transaction (one round
    trip fewer on PostgreSQL).
    """
    names = {signal[:64]: value for signal, value in signals.items()}
    if not locked:
        users_repo.lock_user(db=db, user_id=user_id)
    # All of the user's rows (a dozen signals at most): an IN list of the signals would make
    # SQLAlchemy expand the statement on every call, twice the CPU of this read.
    existing = {
        signal: (n, mean, var) for signal, n, mean, var in _stats(db, user_id) if signal in names
    }
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for signal, value in names.items():
        previous = existing.get(signal)
        n, mean, var = update(previous, value)
        if previous is None:
            inserts.append(
                {
                    "user_id": user_id,
                    "signal": signal,
                    "n": n,
                    "mean": mean,
                    "var": var,
                    "updated_at": now,
                }
            )
        else:
            updates.append(
                {"b_user": user_id, "b_signal": signal, "n": n, "mean": mean, "var": var, "at": now}
            )
    # One statement each, executed for many rows: the ORM would flush row by row.
    sqlite = driver(db)
    if sqlite is not None:  # on the driver's cursor: mindsync.storage.driver
        sqlite.insert(_INSERT, inserts)
        sqlite.run_many(_UPDATE, updates)
        return
    if inserts:
        db.execute(_INSERT, inserts)
    if updates:
        (db if isinstance(db, Connection) else db.connection()).execute(_UPDATE, updates)
