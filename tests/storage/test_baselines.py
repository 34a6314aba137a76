"""Concurrent baseline updates of one user (what concurrent analyses of one user do), on the
test database: SQLite, or PostgreSQL in CI's second run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from mindsync.api.services import _fold
from mindsync.storage.engine import create_session_factory
from mindsync.storage.repositories import baselines as baselines_repo

SIGNALS = {f"signal_{i}": 0.1 * i for i in range(8)}


def test_concurrent_updates_of_one_new_users_baseline_all_count(db_engine: sa.Engine) -> None:
    # Two first analyses used to race to insert the same rows, and row locks deadlocked.
    factory = create_session_factory(db_engine)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def analyses() -> None:
        try:
            start.wait()
            for _ in range(5):
                with factory() as db:
                    baselines_repo.update_baselines(
                        db=db, user_id="u1", signals=SIGNALS, update=_fold, now=datetime.now(UTC)
                    )
                    db.commit()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=analyses, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "updates still waiting after 60 s"
    assert errors == []
    with factory() as db:
        stored = baselines_repo.get_baselines(db=db, user_id="u1")
    assert set(stored) == set(SIGNALS)
    assert {n for n, _, _ in stored.values()} == {40}
